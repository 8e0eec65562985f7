//! A container registry on loopback for the pull tests: Debian's `docker-registry` (the CNCF
//! Distribution registry) with its own configuration and storage in a temporary directory,
//! on an ephemeral port, optionally behind htpasswd authentication. Images are pushed into it
//! through the engine under the official repository names, so `up` pulls them for real.
//!
//! The engine treats registries on 127.0.0.0/8 as insecure (plain HTTP) by default, so no TLS
//! is needed. Without the `docker-registry` binary, [`LocalRegistry::start`] answers `None`
//! (tests skip, and fail under `CI=true`; `.ci/run` installs the package).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    PushImageOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

/// Debian's binary.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// A running registry; stopped when dropped.
pub struct LocalRegistry {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
    credentials: Option<(String, String)>,
}

impl LocalRegistry {
    /// Start one, with `credentials` (user, password) required when given. `None` when the
    /// binary is not installed.
    pub async fn start(credentials: Option<(&str, &str)>) -> anyhow::Result<Option<LocalRegistry>> {
        if !std::path::Path::new(REGISTRY_BINARY).exists() {
            return Ok(None);
        }
        let dir = std::env::temp_dir().join(format!(
            "iamstack-registry-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos()
        ));
        std::fs::create_dir_all(dir.join("data"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        if let Some((user, password)) = credentials {
            let hash = bcrypt::hash(password, 5).context("bcrypt")?;
            std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n"))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: iamstack-test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), config)?;
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start docker-registry")?;
        let registry = LocalRegistry {
            child: Some(child),
            port,
            dir,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
        };
        registry.wait_ready().await?;
        Ok(Some(registry))
    }

    /// `127.0.0.1:<port>`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The engine's credentials for this registry, when it needs some.
    pub fn docker_credentials(&self) -> Option<DockerCredentials> {
        self.credentials.as_ref().map(|(u, p)| DockerCredentials {
            username: Some(u.clone()),
            password: Some(p.clone()),
            serveraddress: Some(self.host()),
            ..Default::default()
        })
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let url = format!("http://{}/v2/", self.host());
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(&url).await {
                if matches!(r.status().as_u16(), 200 | 401) {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not answer at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Push the local image `local` as `<registry>/<repo>:<tag>` and drop that local tag again
    /// (the image itself stays under its own name). The reference pulled later.
    pub async fn push(
        &self,
        docker: &Docker,
        local: &str,
        repo: &str,
        tag: &str,
    ) -> anyhow::Result<String> {
        let target = format!("{}/{repo}", self.host());
        docker
            .tag_image(
                local,
                Some(TagImageOptionsBuilder::new().repo(&target).tag(tag).build()),
            )
            .await
            .with_context(|| format!("tag {local} as {target}:{tag}"))?;
        let reference = format!("{target}:{tag}");
        let mut stream = docker.push_image(
            &target,
            Some(PushImageOptionsBuilder::new().tag(tag).build()),
            self.docker_credentials(),
        );
        while let Some(item) = stream.next().await {
            let info = item.with_context(|| format!("push {reference}"))?;
            if let Some(e) = info.error_detail.and_then(|d| d.message) {
                anyhow::bail!("push {reference}: {e}");
            }
        }
        self.forget_locally(docker, &reference).await?;
        Ok(reference)
    }

    /// Remove a reference from the engine (an untag when other names hold the image).
    pub async fn forget_locally(&self, docker: &Docker, reference: &str) -> anyhow::Result<()> {
        match docker
            .remove_image(
                reference,
                Some(RemoveImageOptionsBuilder::new().build()),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("remove {reference}")),
        }
    }

    /// Stop it (a pull in flight breaks off); [`LocalRegistry::restart`] starts it again with
    /// the same storage.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port and storage.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(self.dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("restart docker-registry")?;
        self.child = Some(child);
        self.wait_ready().await
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Build `tag` from `base` plus one layer of `bytes` random bytes (so a pull of it downloads
/// that layer for real, with byte progress, while the base layers are already here). Labelled
/// with `labels` so a sweep removes it.
pub async fn build_with_random_layer(
    docker: &Docker,
    base: &str,
    tag: &str,
    bytes: usize,
    labels: &std::collections::HashMap<String, String>,
) -> anyhow::Result<()> {
    use std::io::Read;
    let mut blob = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut blob)?;
    let dockerfile = format!("FROM {base}\nCOPY blob /opt/iamstack-test-blob\n");
    let mut archive = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Dockerfile", dockerfile.as_bytes()),
        ("blob", blob.as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, name, data)?;
    }
    let context = archive.into_inner()?;
    let options = bollard::query_parameters::BuildImageOptionsBuilder::new()
        .t(tag)
        .labels(labels)
        .rm(true)
        .build();
    let mut stream = docker.build_image(
        options,
        None,
        Some(bollard::body_full(bytes::Bytes::from(context))),
    );
    while let Some(item) = stream.next().await {
        let info = item.context("build the test image")?;
        if let Some(e) = info.error_detail.and_then(|d| d.message) {
            anyhow::bail!("build {tag}: {e}");
        }
    }
    Ok(())
}
