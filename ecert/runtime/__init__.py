"""What every process of the suite runs on: configuration, logging, the event loop, the
refresh of upstream copies and bounded caches. No transport imports."""
