"""The display-free core: the Interactions API, threads, turns, results. No IPython, no ipywidgets."""
