//! The stack: plan (pure), up, down, status.
