"""The Jobs feature: queue events on the GUI thread, and the panel that lists the jobs."""
