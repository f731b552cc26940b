"""The artifact fetcher: lock artifacts downloaded on the host, hash-verified, cached.

With the registry client and the engine module, the only code that touches the network.
"""
