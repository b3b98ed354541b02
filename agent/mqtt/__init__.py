"""MQTT: the agent's events out and commands in, the Hermes protocol, Home Assistant discovery.

See :mod:`agent.mqtt.bridge` for the topics and :mod:`agent.mqtt.commands` for the payloads.
"""

from agent.mqtt.bridge import MqttBridge
from agent.mqtt.commands import PAYLOAD_VERSION, Command, CommandError, Topics

__all__ = ["PAYLOAD_VERSION", "Command", "CommandError", "MqttBridge", "Topics"]
