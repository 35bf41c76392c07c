"""callbot: an offline telephone voicebot for French town halls."""

__version__ = "0.1.0"
