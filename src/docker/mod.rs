//! Thin client over the Docker Engine API (bollard): one method per engine operation.
