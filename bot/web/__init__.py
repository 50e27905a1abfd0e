"""HTTP surfaces: the aiohttp app, webhook intake, the HNP API, the status page, metrics."""
