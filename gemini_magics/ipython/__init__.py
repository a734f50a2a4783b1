"""The IPython front end: the magics, their sub-commands, and display renderers for cells and terminals."""
