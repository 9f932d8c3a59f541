"""Qt-free domain: errors, paths, settings and the plain data objects every layer shares."""
