"""The GitHub gateway: nothing else in the bot talks to GitHub."""
