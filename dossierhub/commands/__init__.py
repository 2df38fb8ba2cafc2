"""One module per ``dossierhub`` sub-command."""
