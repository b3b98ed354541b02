"""Short-word spotter: tells a short barge-in that must stop the agent from one it may talk over."""
