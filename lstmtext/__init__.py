"""lstmtext: train and use LSTM language models and text classifiers from the shell."""

__version__ = "0.1.0"
