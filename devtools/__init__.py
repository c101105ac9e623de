"""Development tooling: the AVIV emulator, the local stack (`make local`), template-driven AWS setup."""
