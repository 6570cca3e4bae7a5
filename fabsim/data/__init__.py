"""Data files shipped with fabsim: the built-in flow-size CDFs (see README.md here)."""
