"""The always-on service: one worker thread, scheduler triggers, HTTP app."""
