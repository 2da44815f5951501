"""Known released weights: their catalogue, the local cache, and the explicit downloader (nothing here runs
unless the user asks for it with ``efficientps weights fetch``)."""
