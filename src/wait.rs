//! Readiness probes with a deadline, a poll interval, the last error kept, and crash detection.
