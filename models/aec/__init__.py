"""The echo chain, in signal order: stft, tde (GCC-PHAT) + delay_line, laec, (res), pwf, chain."""
