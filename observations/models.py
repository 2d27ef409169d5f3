# The observation log, codebook, ties and indicator snapshots arrive with later issues
# (see DESIGN.md, "Apps and data flow"); this app reads coordination, never the reverse.
