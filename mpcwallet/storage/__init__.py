"""Share files and backups (DESIGN.md, "Files").

``envelope`` (pure encrypt/decrypt), ``body`` (the plaintext layout), ``files`` (atomic 0600
I/O) and ``store`` (the three together). No terminal I/O here, and no import of ``cli``.
"""
