"""spectool: crystal structures and measured spectra to explainable classifiers, from the shell."""

__version__ = "0.1.0"
