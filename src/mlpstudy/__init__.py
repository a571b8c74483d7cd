"""mlpstudy: which small MLP should we deploy to read handwritten digits, and how sure are we?"""

__version__ = "0.1.0"
