"""Sources: fetch bytes safely (fetch.py, addresses.py), parse feeds (feeds.py) and pages
(pages.py), decide what a URL is (probe.py). No store access here; polling is poll.py."""
