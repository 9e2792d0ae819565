"""The process: command line, the running app that owns every thread, the HTTP server and its
thread pool, systemd notify, mDNS and memory trimming. Nothing below imports it."""
