//! Offline stand-in images, for machines that cannot pull the official ones.
//!
//! | stand-in | stands in for | made of |
//! |---|---|---|
//! | [`POSTGRES_IMAGE`] `iamstack-test/postgres:17` | `postgres:17.4` | Debian trixie minbase + `postgresql-17`, our POSIX entrypoint (`tests/support/standin/postgres-entrypoint.sh`) honouring the official image's contract |
//! | [`KEYCLOAK_IMAGE`] `iamstack-test/keycloak:26.2-double` | `keycloak/keycloak:26.2` | Debian trixie minbase + the Keycloak double's release binary as `/opt/keycloak/bin/kc.sh` |
//!
//! How an image is made, each step cached:
//! 1. a root filesystem tarball, made by `mmdebstrap` from the Debian mirror and cached under
//!    `<target>/standin/rootfs/<name>-<recipe hash>.tar`;
//! 2. imported through the engine API (what `docker import` does) as `iamstack-test/rootfs:<name>`,
//!    labelled with the recipe's hash;
//! 3. our files (entrypoint script, double binary) uploaded into a build container made from that
//!    base, which is committed with the image configuration (entrypoint, cmd, env, ports, volume,
//!    stop signal). A commit, not import `changes`: engine 20.10 refuses `STOPSIGNAL` there
//!    ("stopsignal is not a valid change command"), and this way a changed entrypoint or double
//!    neither reruns mmdebstrap nor re-imports the base.
//!
//! Every image carries `dev.iamstack.standin-hash=<hash of its inputs>`: the rootfs recipe, the
//! files (for the double: its crate's sources, the workspace `Cargo.toml` and `Cargo.lock`) and the
//! configuration. Each build is tagged twice: by its exact name `repo:tag-<hash12>` (what tests
//! run: nobody else moves it, so two worktrees sharing an engine never run each other's double)
//! and by the plain name (`iamstack-test/postgres:17`), re-pointed at the caller's build on every
//! call. A missing exact image means build; a present one is used as is, without taking any lock.
//! Builds hold an exclusive lock on `<target>/standin/build.lock`, so parallel test processes build
//! once and the others wait, then find the image fresh. The newest 5 builds of each stand-in are
//! kept (they share their base layer).
//!
//! Stand-ins are never tagged with an official name.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context};
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerConfig, ContainerCreateBody};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListImagesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use crate::slot::ImageWork;

/// The Postgres stand-in (never `postgres:*`).
pub const POSTGRES_IMAGE: &str = "iamstack-test/postgres:17";
/// The Keycloak stand-in: the Keycloak double in a container (never `keycloak/keycloak:*`).
pub const KEYCLOAK_IMAGE: &str = "iamstack-test/keycloak:26.2-double";
/// The label holding the hash of a stand-in's (or a stand-in base's) inputs.
pub const LABEL_STANDIN_HASH: &str = "dev.iamstack.standin-hash";
/// Says what the image is, for whoever finds it in `docker images`.
pub const LABEL_DESCRIPTION: &str = "org.opencontainers.image.description";
/// Repository of the imported root filesystems (`iamstack-test/rootfs:<recipe name>`).
pub const ROOTFS_REPO: &str = "iamstack-test/rootfs";

/// The Debian suite the stand-ins are built from.
pub const SUITE: &str = "trixie";
/// The mirror, unless `IAMSTACK_STANDIN_MIRROR` names another.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// The Postgres entrypoint (our own POSIX shell script).
pub const POSTGRES_ENTRYPOINT: &str = include_str!("../standin/postgres-entrypoint.sh");

/// A root filesystem made by mmdebstrap (variant minbase, suite [`SUITE`]).
#[derive(Debug, Clone, Copy)]
pub struct Rootfs {
    /// Short name: the tag of the imported base image and the tarball's file name.
    pub name: &'static str,
    /// Packages beyond minbase.
    pub include: &'static [&'static str],
    /// Shell run by mmdebstrap after the essential packages, before `include` (`$1` = the root).
    pub essential_hook: Option<&'static str>,
}

/// Debian's postgresql-17 without the cluster its postinst would create (the entrypoint runs
/// initdb on the data directory instead, as the official image does).
pub const ROOTFS_POSTGRES: Rootfs = Rootfs {
    name: "postgres-17",
    include: &["postgresql-17", "util-linux"],
    essential_hook: Some(
        "mkdir -p \"$1/etc/postgresql-common/createcluster.d\" && \
         echo 'create_main_cluster = false' > \"$1/etc/postgresql-common/createcluster.d/iamstack.conf\"",
    ),
};

/// Plain minbase: enough for the double's glibc binary.
pub const ROOTFS_MINBASE: Rootfs = Rootfs {
    name: "minbase",
    include: &[],
    essential_hook: None,
};

/// Documentation, manuals and translations are left out to keep the images small.
const DPKG_OPTS: &[&str] = &[
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
];

impl Rootfs {
    /// The mmdebstrap arguments, without the output path and mirror (those do not change the
    /// content).
    fn recipe_args(&self) -> Vec<String> {
        let mut args = vec!["--variant=minbase".to_string(), "--format=tar".to_string()];
        if !self.include.is_empty() {
            args.push(format!("--include={}", self.include.join(",")));
        }
        args.extend(DPKG_OPTS.iter().map(|o| format!("--dpkgopt={o}")));
        if let Some(hook) = self.essential_hook {
            args.push(format!("--essential-hook={hook}"));
        }
        args.push(SUITE.to_string());
        args
    }

    /// Hash of the recipe: a change means a new tarball and a new base image.
    pub fn hash(&self) -> String {
        sha256_hex(format!("rootfs-v1\n{}\n{:?}", self.name, self.recipe_args()).as_bytes())
    }

    /// The imported base image, `iamstack-test/rootfs:<name>`.
    pub fn image(&self) -> String {
        format!("{ROOTFS_REPO}:{}", self.name)
    }

    fn tarball(&self, layout: &Layout) -> PathBuf {
        layout
            .rootfs_dir()
            .join(format!("{}-{}.tar", self.name, &self.hash()[..16]))
    }
}

/// One file put into a stand-in image.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Absolute path in the image.
    pub path: String,
    pub mode: u32,
    pub content: Vec<u8>,
}

/// Where a stand-in's own files come from.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Files given in full (their content is part of the hash).
    Files(Vec<FileEntry>),
    /// The Keycloak double's release binary, built by a nested `cargo build` when the image is
    /// (re)built, installed at this path. Its hash covers the crate's sources instead.
    KeycloakDouble { path: &'static str },
}

/// An image's configuration, in a form whose `Debug` is deterministic (it is hashed).
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub stop_signal: String,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A stand-in image: base, files, configuration, and the hash of all of them.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// `repo:tag`.
    pub image: String,
    pub rootfs: Rootfs,
    pub payload: Payload,
    /// Fingerprint of what produces `payload` (for the double: its sources).
    pub input_hash: String,
    pub config: ImageConfig,
}

impl ImageSpec {
    /// The value of [`LABEL_STANDIN_HASH`] the image must carry to be fresh. The version
    /// prefix covers how payloads are laid out (owners, modes), which no input file holds:
    /// bump it when that changes (v2: `/opt/keycloak` belongs to uid 1000).
    pub fn hash(&self) -> String {
        sha256_hex(
            format!(
                "standin-v2\n{}\n{}\n{}\n{:?}",
                self.image,
                self.rootfs.hash(),
                self.input_hash,
                self.config
            )
            .as_bytes(),
        )
    }

    /// The image under a tag naming its hash, `repo:tag-<hash12>`, e.g.
    /// `iamstack-test/postgres:17-0123456789ab`: what tests run. Several worktrees (or branches)
    /// sharing one engine each get their own build, while the plain tag points at the latest.
    pub fn exact_image(&self) -> String {
        format!("{}-{}", self.image, &self.hash()[..12])
    }

    fn container_config(&self, hash: &str) -> ContainerConfig {
        let c = &self.config;
        let mut labels: std::collections::HashMap<String, String> = c
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.insert(LABEL_STANDIN_HASH.to_string(), hash.to_string());
        let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        ContainerConfig {
            entrypoint: non_empty(&c.entrypoint),
            cmd: non_empty(&c.cmd),
            env: non_empty(&c.env),
            exposed_ports: non_empty(&c.exposed_ports),
            volumes: non_empty(&c.volumes),
            stop_signal: Some(c.stop_signal.clone()),
            user: c.user.clone(),
            working_dir: c.working_dir.clone(),
            labels: Some(labels),
            ..Default::default()
        }
    }
}

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The Postgres stand-in: the official image's contract (entrypoint, cmd, PGDATA, volume, SIGINT).
pub fn postgres_spec() -> ImageSpec {
    let files = vec![FileEntry {
        path: "/usr/local/bin/docker-entrypoint.sh".into(),
        mode: 0o755,
        content: POSTGRES_ENTRYPOINT.as_bytes().to_vec(),
    }];
    let input_hash = files_hash(&files);
    ImageSpec {
        image: POSTGRES_IMAGE.into(),
        rootfs: ROOTFS_POSTGRES,
        payload: Payload::Files(files),
        input_hash,
        config: ImageConfig {
            entrypoint: vec!["docker-entrypoint.sh".into()],
            cmd: vec!["postgres".into()],
            env: vec![
                format!("{PATH_ENV}:/usr/lib/postgresql/17/bin"),
                "PG_MAJOR=17".into(),
                "PGDATA=/var/lib/postgresql/data".into(),
                "LANG=C.UTF-8".into(),
            ],
            exposed_ports: vec!["5432/tcp".into()],
            volumes: vec!["/var/lib/postgresql/data".into()],
            stop_signal: "SIGINT".into(),
            user: None,
            working_dir: None,
            labels: BTreeMap::from([(
                LABEL_DESCRIPTION.to_string(),
                "iamstack TEST STAND-IN for postgres:17.4 (Debian postgresql-17); not the official image"
                    .to_string(),
            )]),
        },
    }
}

/// The Keycloak stand-in: the double's binary as `/opt/keycloak/bin/kc.sh`, run as uid 1000 like
/// the official image, ports 8080, 8443, 9000, SIGTERM.
pub fn keycloak_spec(layout: &Layout) -> anyhow::Result<ImageSpec> {
    Ok(ImageSpec {
        image: KEYCLOAK_IMAGE.into(),
        rootfs: ROOTFS_MINBASE,
        payload: Payload::KeycloakDouble {
            path: "/opt/keycloak/bin/kc.sh",
        },
        input_hash: double_sources_hash(&layout.workspace)?,
        config: ImageConfig {
            entrypoint: vec!["/opt/keycloak/bin/kc.sh".into()],
            cmd: vec![],
            env: vec![
                PATH_ENV.into(),
                "LANG=C.UTF-8".into(),
                "KC_RUN_IN_CONTAINER=true".into(),
            ],
            exposed_ports: vec!["8080/tcp".into(), "8443/tcp".into(), "9000/tcp".into()],
            volumes: vec![],
            stop_signal: "SIGTERM".into(),
            user: Some("1000".into()),
            working_dir: Some("/opt/keycloak".into()),
            labels: BTreeMap::from([(
                LABEL_DESCRIPTION.to_string(),
                "iamstack TEST STAND-IN for keycloak/keycloak:26.2: the Keycloak double, not Keycloak"
                    .to_string(),
            )]),
        },
    })
}

/// Where stand-in work happens on disk.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The workspace root (sources of the double, Cargo.lock).
    pub workspace: PathBuf,
    /// `<target>/standin`: lock, rootfs tarballs, the nested cargo build.
    pub root: PathBuf,
}

impl Layout {
    /// The workspace this crate belongs to, and the target directory this process was built in
    /// (the nearest ancestor of the running executable holding cargo's `CACHEDIR.TAG`), else
    /// `CARGO_TARGET_DIR`, else `<workspace>/target`.
    pub fn discover() -> Layout {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = manifest
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| manifest.to_path_buf());
        let from_exe = std::env::current_exe().ok().and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        });
        let target = from_exe
            .or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR").map(|d| {
                    let d = PathBuf::from(d);
                    if d.is_absolute() {
                        d
                    } else {
                        workspace.join(d)
                    }
                })
            })
            .unwrap_or_else(|| workspace.join("target"));
        Layout {
            workspace,
            root: target.join("standin"),
        }
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join("build.lock")
    }

    pub fn rootfs_dir(&self) -> PathBuf {
        self.root.join("rootfs")
    }

    /// The nested cargo build's own target directory (so it never waits on the outer build's lock).
    pub fn cargo_target(&self) -> PathBuf {
        self.root.join("cargo")
    }
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The image carried the wanted hash; nothing was done.
    Fresh,
    /// The image was (re)built.
    Built,
}

/// The two stand-ins, ready, by their exact (hash-suffixed) names; the plain names
/// [`POSTGRES_IMAGE`] and [`KEYCLOAK_IMAGE`] point at the same images after [`ensure_all`].
#[derive(Debug, Clone)]
pub struct Standins {
    pub postgres: String,
    pub keycloak: String,
}

/// Make sure both stand-ins exist and are fresh; build what is missing or stale (the two at once:
/// mmdebstrap mostly waits on the network while the double compiles).
pub async fn ensure_all(docker: &Docker) -> anyhow::Result<Standins> {
    let layout = Layout::discover();
    let specs = [postgres_spec(), keycloak_spec(&layout)?];
    ensure_many(docker, &layout, &specs).await?;
    Ok(Standins {
        postgres: specs[0].exact_image(),
        keycloak: specs[1].exact_image(),
    })
}

/// Make sure the image of `spec` exists with its current hash; build it otherwise.
pub async fn ensure(docker: &Docker, layout: &Layout, spec: &ImageSpec) -> anyhow::Result<Outcome> {
    let outcomes = ensure_many(docker, layout, std::slice::from_ref(spec)).await?;
    Ok(outcomes[0])
}

async fn ensure_many(
    docker: &Docker,
    layout: &Layout,
    specs: &[ImageSpec],
) -> anyhow::Result<Vec<Outcome>> {
    // Fast path, no lock: every image already exists under its exact name.
    let mut fresh = Vec::new();
    for spec in specs {
        fresh.push(image_hash(docker, &spec.exact_image()).await? == Some(spec.hash()));
    }
    if fresh.iter().all(|f| *f) {
        for spec in specs {
            point_plain_tag(docker, spec).await?;
        }
        return Ok(vec![Outcome::Fresh; specs.len()]);
    }

    let _lock = BuildLock::acquire(layout).await?;
    // Someone may have built while we waited for the lock.
    let mut stale = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if image_hash(docker, &spec.exact_image()).await? != Some(spec.hash()) {
            stale.push(i);
        }
    }
    let builds = stale.iter().map(|&i| build(docker, layout, &specs[i]));
    futures_util::future::try_join_all(builds).await?;
    for spec in specs {
        point_plain_tag(docker, spec).await?;
    }
    Ok((0..specs.len())
        .map(|i| {
            if stale.contains(&i) {
                Outcome::Built
            } else {
                Outcome::Fresh
            }
        })
        .collect())
}

/// Make the plain name (`iamstack-test/postgres:17`) point at the exact build, for people and
/// the README's demo; tests use the exact name, which nobody else moves.
async fn point_plain_tag(docker: &Docker, spec: &ImageSpec) -> anyhow::Result<()> {
    let old = image_id(docker, &spec.image).await;
    if old.is_some() && old == image_id(docker, &spec.exact_image()).await {
        return Ok(());
    }
    let (repo, tag) = split_ref(&spec.image);
    docker
        .tag_image(
            &spec.exact_image(),
            Some(
                TagImageOptionsBuilder::default()
                    .repo(repo)
                    .tag(tag)
                    .build(),
            ),
        )
        .await
        .with_context(|| format!("cannot tag `{}` as `{}`", spec.exact_image(), spec.image))?;
    // An image left without any tag (e.g. built before exact tags existed) is dead weight.
    remove_replaced(docker, old, &spec.image).await;
    Ok(())
}

async fn image_id(docker: &Docker, image: &str) -> Option<String> {
    docker.inspect_image(image).await.ok().and_then(|i| i.id)
}

/// How many exact builds of one stand-in to keep (they share the base layer: each costs only
/// its own files).
const KEEP_BUILDS: usize = 5;

/// Untag all but the newest [`KEEP_BUILDS`] exact builds of `spec`'s image. An image a container
/// still uses keeps its last tag (the engine refuses; we leave it).
async fn prune_old_builds(docker: &Docker, spec: &ImageSpec) {
    let (repo, tag) = split_ref(&spec.image);
    let prefix = format!("{repo}:{tag}-");
    let filters = std::collections::HashMap::from([("reference", vec![repo.to_string()])]);
    let Ok(images) = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
    else {
        return;
    };
    let mut builds: Vec<(i64, String)> = images
        .iter()
        .flat_map(|i| {
            i.repo_tags
                .iter()
                .filter(|t| t.starts_with(&prefix))
                .map(move |t| (i.created, t.clone()))
        })
        .collect();
    builds.sort_by(|a, b| b.cmp(a));
    for (_, old) in builds.into_iter().skip(KEEP_BUILDS) {
        if old != spec.exact_image() {
            let _ = docker
                .remove_image(
                    &old,
                    Some(RemoveImageOptionsBuilder::default().build()),
                    None,
                )
                .await;
        }
    }
}

fn split_ref(image: &str) -> (&str, &str) {
    image.rsplit_once(':').unwrap_or((image, "latest"))
}

/// An exclusive lock on `<target>/standin/build.lock`, released on drop (when the file closes).
/// While it is held (and while waiting for it), test time limits stop counting: a build is not
/// the test's time.
struct BuildLock {
    _file: std::fs::File,
    _building: ImageWork,
}

impl BuildLock {
    async fn acquire(layout: &Layout) -> anyhow::Result<BuildLock> {
        let building = ImageWork::start();
        let path = layout.lock_file();
        std::fs::create_dir_all(&layout.root)
            .with_context(|| format!("cannot create `{}`", layout.root.display()))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the stand-in build lock `{}`", path.display()))?;
        let started = Instant::now();
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .context("the lock task failed")?
            .with_context(|| format!("cannot lock `{}`", path.display()))?;
        let waited = started.elapsed();
        if waited.as_millis() > 500 {
            eprintln!(
                "stand-ins: waited {:.1} s for another process's build",
                waited.as_secs_f64()
            );
        }
        Ok(BuildLock {
            _file: file,
            _building: building,
        })
    }
}

/// The stand-in hash label of an image, `None` when the image or the label is missing.
pub async fn image_hash(docker: &Docker, image: &str) -> anyhow::Result<Option<String>> {
    match docker.inspect_image(image).await {
        Ok(info) => Ok(info
            .config
            .and_then(|c| c.labels)
            .and_then(|mut l| l.remove(LABEL_STANDIN_HASH))),
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot inspect image `{image}`")),
    }
}

async fn build(docker: &Docker, layout: &Layout, spec: &ImageSpec) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!("stand-ins: building `{}`", spec.image);
    // The base and the payload are independent: make them at once.
    let (base, files) = tokio::try_join!(
        ensure_base(docker, layout, &spec.rootfs),
        payload_files(layout, &spec.payload)
    )?;
    commit_image(docker, spec, &base, &files).await?;
    eprintln!(
        "stand-ins: built `{}` in {:.1} s",
        spec.image,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The imported base image of `rootfs` (`iamstack-test/rootfs:<name>`), imported (and its
/// tarball made) if missing or stale. Holds no lock: call it through [`ensure_rootfs_image`] or
/// under the build lock.
async fn ensure_base(docker: &Docker, layout: &Layout, rootfs: &Rootfs) -> anyhow::Result<String> {
    let image = rootfs.image();
    let hash = rootfs.hash();
    if image_hash(docker, &image).await? == Some(hash.clone()) {
        return Ok(image);
    }
    let tarball = rootfs.tarball(layout);
    if !tarball.is_file() {
        make_rootfs(layout, rootfs, &tarball).await?;
    }
    let started = Instant::now();
    let old = docker.inspect_image(&image).await.ok().and_then(|i| i.id);
    import_tarball(docker, &tarball, &image, &hash).await?;
    eprintln!(
        "stand-ins: imported `{}` as `{image}` in {:.1} s",
        tarball.display(),
        started.elapsed().as_secs_f64()
    );
    remove_replaced(docker, old, &image).await;
    Ok(image)
}

/// The imported base image of `rootfs`, made if missing or stale (under the build lock). Tests
/// use the minbase one for throwaway containers.
pub async fn ensure_rootfs_image(
    docker: &Docker,
    layout: &Layout,
    rootfs: &Rootfs,
) -> anyhow::Result<String> {
    let image = rootfs.image();
    if image_hash(docker, &image).await? == Some(rootfs.hash()) {
        return Ok(image);
    }
    let _lock = BuildLock::acquire(layout).await?;
    ensure_base(docker, layout, rootfs).await
}

/// Run mmdebstrap into `<tarball>.partial-<pid>`, then rename: a crash never leaves a tarball
/// that looks complete.
async fn make_rootfs(layout: &Layout, rootfs: &Rootfs, tarball: &Path) -> anyhow::Result<()> {
    let dir = layout.rootfs_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let partial = tarball.with_extension(format!("tar.partial-{}", std::process::id()));
    let mirror = std::env::var("IAMSTACK_STANDIN_MIRROR").unwrap_or_else(|_| DEFAULT_MIRROR.into());
    let mut args = rootfs.recipe_args();
    args.push(partial.display().to_string());
    args.push(mirror.clone());
    eprintln!(
        "stand-ins: mmdebstrap {} ({SUITE} from {mirror}); this takes a minute",
        rootfs.name
    );
    let started = Instant::now();
    let output = tokio::process::Command::new("mmdebstrap")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .await;
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "mmdebstrap is not installed; it builds the stand-in images' root filesystems: \
             apt-get install -y mmdebstrap"
        ),
        Err(e) => return Err(e).context("cannot run mmdebstrap"),
    };
    if !output.status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "mmdebstrap for the `{}` root filesystem failed ({}); its last output:\n{}\n{}",
            rootfs.name,
            output.status,
            tail(&output.stdout, 10),
            tail(&output.stderr, 30)
        );
    }
    std::fs::rename(&partial, tarball)
        .with_context(|| format!("cannot move the rootfs to `{}`", tarball.display()))?;
    let size = std::fs::metadata(tarball).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "stand-ins: mmdebstrap {} took {:.1} s ({} MB)",
        rootfs.name,
        started.elapsed().as_secs_f64(),
        size / 1_000_000
    );
    // Tarballs of older recipes of the same rootfs are dead weight.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let prefix = format!("{}-", rootfs.name);
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path != tarball && name.starts_with(&prefix) && name.ends_with(".tar") {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    Ok(())
}

/// `docker import`: POST /images/create?fromSrc=- with the tarball streamed as the body.
async fn import_tarball(
    docker: &Docker,
    tarball: &Path,
    image: &str,
    hash: &str,
) -> anyhow::Result<()> {
    let (repo, tag) = split_ref(image);
    let file = tokio::fs::File::open(tarball)
        .await
        .with_context(|| format!("cannot open `{}`", tarball.display()))?;
    let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    });
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(vec![
            format!("LABEL {LABEL_STANDIN_HASH}={hash}"),
            format!(
                "LABEL {LABEL_DESCRIPTION}=\"iamstack test stand-in base (Debian {SUITE} rootfs)\""
            ),
        ])
        .build();
    docker
        .create_image(Some(options), Some(bollard::body_try_stream(chunks)), None)
        .try_for_each(|_| async { Ok(()) })
        .await
        .with_context(|| format!("cannot import `{}` as `{image}`", tarball.display()))?;
    Ok(())
}

async fn payload_files(layout: &Layout, payload: &Payload) -> anyhow::Result<Vec<FileEntry>> {
    match payload {
        Payload::Files(files) => Ok(files.clone()),
        Payload::KeycloakDouble { path } => {
            let binary = build_double(layout).await?;
            let content = tokio::fs::read(&binary)
                .await
                .with_context(|| format!("cannot read `{}`", binary.display()))?;
            Ok(vec![FileEntry {
                path: (*path).to_string(),
                mode: 0o755,
                content,
            }])
        }
    }
}

/// `cargo build --profile standin --locked -p keycloak-double` with its own target directory under
/// ours (the `standin` profile: optimised, but without LTO, so a cold build takes minutes, not ten).
pub async fn build_double(layout: &Layout) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = layout.cargo_target();
    eprintln!(
        "stand-ins: cargo build --profile standin -p keycloak-double (target `{}`); minutes the first time",
        target.display()
    );
    let started = Instant::now();
    let output = tokio::process::Command::new(&cargo)
        .args([
            "build",
            "--profile",
            "standin",
            "--locked",
            "-p",
            "keycloak-double",
        ])
        .current_dir(&layout.workspace)
        .env("CARGO_TARGET_DIR", &target)
        // The outer cargo's jobserver and target settings are not the nested build's.
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run `{}`", Path::new(&cargo).display()))?;
    if !output.status.success() {
        bail!(
            "building the Keycloak double failed ({}); cargo's last output:\n{}",
            output.status,
            tail(&output.stderr, 40)
        );
    }
    eprintln!(
        "stand-ins: keycloak-double built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(target.join("standin").join("keycloak-double"))
}

/// The Keycloak home and the user owning it: the official image copies `/opt/keycloak` with
/// `--chown=1000:0` and makes it group-writable, so that `kc.sh build` (a Dockerfile `RUN` step as
/// uid 1000) and the auto-build of `start` can rewrite `lib/quarkus` inside it.
const KEYCLOAK_HOME: &str = "opt/keycloak";
const KEYCLOAK_UID: u64 = 1000;

/// Owner and directory mode of a tar path: the Keycloak home (and everything below it) belongs
/// to uid 1000 with group-writable directories; the rest to root.
fn tar_owner(rel: &Path) -> (u64, u32) {
    if rel.starts_with(KEYCLOAK_HOME) {
        (KEYCLOAK_UID, 0o775)
    } else {
        (0, 0o755)
    }
}

/// A tar of `files` (with their parent directories) to upload at `/`; root owns everything but
/// the Keycloak home ([`tar_owner`]).
pub fn files_tar(files: &[FileEntry]) -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for file in files {
        let rel = file.path.trim_start_matches('/');
        let mut parent = Path::new(rel).parent();
        while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(dir.to_path_buf());
            parent = dir.parent();
        }
    }
    for dir in &dirs {
        let (uid, mode) = tar_owner(dir);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(0);
        header.set_size(0);
        header.set_mtime(0);
        builder
            .append_data(&mut header, dir, std::io::empty())
            .context("cannot write a tar directory entry")?;
    }
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(file.mode);
        header.set_uid(tar_owner(Path::new(file.path.trim_start_matches('/'))).0);
        header.set_gid(0);
        header.set_size(file.content.len() as u64);
        header.set_mtime(0);
        builder
            .append_data(
                &mut header,
                file.path.trim_start_matches('/'),
                file.content.as_slice(),
            )
            .context("cannot write a tar file entry")?;
    }
    builder.into_inner().context("cannot finish the tar")
}

/// Base + files + configuration -> the image: create a build container from the base, upload the
/// files, commit it with the configuration, remove the container.
async fn commit_image(
    docker: &Docker,
    spec: &ImageSpec,
    base: &str,
    files: &[FileEntry],
) -> anyhow::Result<()> {
    let hash = spec.hash();
    let exact = spec.exact_image();
    let (repo, tag) = split_ref(&exact);
    let container = format!(
        "iamstack-standin-build-{}",
        spec.image.replace(['/', ':'], "-")
    );
    let rm = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    // A build container left by a killed build (we hold the lock: nobody else uses it).
    let _ = docker.remove_container(&container, Some(rm.clone())).await;
    docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&container)
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(base.to_string()),
                cmd: Some(vec!["/bin/true".into()]),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("cannot create the build container from `{base}`"))?;
    let result = async {
        let tar = files_tar(files)?;
        docker
            .upload_to_container(
                &container,
                Some(UploadToContainerOptionsBuilder::default().path("/").build()),
                bollard::body_full(Bytes::from(tar)),
            )
            .await
            .context("cannot upload the stand-in's files")?;
        docker
            .commit_container(
                CommitContainerOptionsBuilder::default()
                    .container(&container)
                    .repo(repo)
                    .tag(tag)
                    .comment("iamstack test stand-in")
                    .pause(false)
                    .build(),
                spec.container_config(&hash),
            )
            .await
            .with_context(|| format!("cannot commit `{exact}`"))?;
        prune_old_builds(docker, spec).await;
        anyhow::Ok(())
    }
    .await;
    let _ = docker.remove_container(&container, Some(rm)).await;
    result
}

/// Remove the image `image` pointed at before (`old`) if no tag names it any more. Tags are
/// checked first: deleting by id would also delete every tag of one repository at once (the
/// engine's rule), e.g. another worktree's exact build. The engine refuses (and we leave it) when
/// a container uses it.
async fn remove_replaced(docker: &Docker, old: Option<String>, image: &str) {
    let Some(old) = old else { return };
    if image_id(docker, image).await.as_deref() == Some(old.as_str()) {
        return;
    }
    let tagged = match docker.inspect_image(&old).await {
        Ok(info) => !info.repo_tags.unwrap_or_default().is_empty(),
        Err(_) => return,
    };
    if tagged {
        return;
    }
    let _ = docker
        .remove_image(
            &old,
            Some(RemoveImageOptionsBuilder::default().force(false).build()),
            None,
        )
        .await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Hash of file entries: paths, modes and contents.
pub fn files_hash(files: &[FileEntry]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(format!("{}\n{:o}\n{}\n", f.path, f.mode, f.content.len()).as_bytes());
        h.update(&f.content);
    }
    sha256_hex(&h.finalize())
}

/// Hash of the double's inputs: every file under `tests/keycloak-double` (except `target`
/// directories and hidden entries), plus the workspace's `Cargo.toml` and `Cargo.lock`.
pub fn double_sources_hash(workspace: &Path) -> anyhow::Result<String> {
    let crate_dir = workspace.join("tests").join("keycloak-double");
    let mut files = Vec::new();
    collect_files(&crate_dir, &mut files).with_context(|| {
        format!(
            "cannot read the double's sources in `{}`",
            crate_dir.display()
        )
    })?;
    files.push(workspace.join("Cargo.toml"));
    files.push(workspace.join("Cargo.lock"));
    tree_hash(workspace, &files)
}

/// Hash of files named relative to `root`: each relative path and content.
pub fn tree_hash(root: &Path, files: &[PathBuf]) -> anyhow::Result<String> {
    let mut sorted: Vec<&PathBuf> = files.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for path in sorted {
        let content =
            std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let rel = path.strip_prefix(root).unwrap_or(path);
        h.update(format!("{}\n{}\n", rel.display(), content.len()).as_bytes());
        h.update(&content);
    }
    Ok(sha256_hex(&h.finalize()))
}

/// Every regular file under `dir`, skipping `target` directories and hidden entries.
pub fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "iamstack-support-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn the_postgres_recipe_is_trixie_minbase_with_postgresql_17_and_no_main_cluster() {
        let args = ROOTFS_POSTGRES.recipe_args();
        assert!(args.contains(&"--variant=minbase".to_string()));
        assert!(args.contains(&"--include=postgresql-17,util-linux".to_string()));
        assert_eq!(args.last().map(String::as_str), Some("trixie"));
        assert!(args.iter().any(
            |a| a.starts_with("--essential-hook=") && a.contains("create_main_cluster = false")
        ));
        assert_ne!(ROOTFS_POSTGRES.hash(), ROOTFS_MINBASE.hash());
    }

    #[test]
    fn stand_ins_never_carry_official_names() {
        for name in [
            POSTGRES_IMAGE,
            KEYCLOAK_IMAGE,
            &ROOTFS_POSTGRES.image(),
            &ROOTFS_MINBASE.image(),
        ] {
            assert!(name.starts_with("iamstack-test/"), "{name}");
        }
    }

    #[test]
    fn the_postgres_spec_follows_the_official_contract() {
        let spec = postgres_spec();
        let c = spec.container_config(&spec.hash());
        assert_eq!(c.entrypoint, Some(vec!["docker-entrypoint.sh".to_string()]));
        assert_eq!(c.cmd, Some(vec!["postgres".to_string()]));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(
            c.volumes,
            Some(vec!["/var/lib/postgresql/data".to_string()])
        );
        let env = c.env.unwrap_or_default();
        assert!(env.contains(&"PGDATA=/var/lib/postgresql/data".to_string()));
        assert!(env
            .iter()
            .any(|e| e.starts_with("PATH=") && e.ends_with(":/usr/lib/postgresql/17/bin")));
        assert_eq!(
            c.labels.unwrap_or_default().get(LABEL_STANDIN_HASH),
            Some(&spec.hash())
        );
    }

    #[test]
    fn the_spec_hash_follows_every_input() {
        let base = postgres_spec();
        assert_eq!(
            base.hash(),
            postgres_spec().hash(),
            "same inputs, same hash"
        );

        let mut script = base.clone();
        let mut files = vec![FileEntry {
            path: "/usr/local/bin/docker-entrypoint.sh".into(),
            mode: 0o755,
            content: format!("{POSTGRES_ENTRYPOINT}\n# changed\n").into_bytes(),
        }];
        script.input_hash = files_hash(&files);
        assert_ne!(script.hash(), base.hash(), "a changed entrypoint");
        files[0].mode = 0o644;
        assert_ne!(files_hash(&files), script.input_hash, "a changed mode");

        let mut config = base.clone();
        config.config.stop_signal = "SIGTERM".into();
        assert_ne!(config.hash(), base.hash(), "a changed configuration");

        let mut rootfs = base.clone();
        rootfs.rootfs = ROOTFS_MINBASE;
        assert_ne!(rootfs.hash(), base.hash(), "a changed base");
    }

    #[test]
    fn the_double_hash_follows_its_sources_and_lockfile_but_not_build_output() {
        let ws = temp_dir("ws");
        let src = ws.join("tests/keycloak-double/src");
        std::fs::create_dir_all(&src).expect("src dir");
        std::fs::write(ws.join("Cargo.toml"), "[workspace]\n").expect("write");
        std::fs::write(ws.join("Cargo.lock"), "version = 4\n").expect("write");
        std::fs::write(ws.join("tests/keycloak-double/Cargo.toml"), "[package]\n").expect("write");
        std::fs::write(src.join("main.rs"), "fn main() {}\n").expect("write");
        let first = double_sources_hash(&ws).expect("hash");

        std::fs::create_dir_all(ws.join("tests/keycloak-double/target")).expect("dir");
        std::fs::write(ws.join("tests/keycloak-double/target/junk"), "x").expect("write");
        assert_eq!(
            double_sources_hash(&ws).expect("hash"),
            first,
            "target/ is ignored"
        );

        std::fs::write(src.join("main.rs"), "fn main() { println!(); }\n").expect("write");
        let edited = double_sources_hash(&ws).expect("hash");
        assert_ne!(edited, first, "an edited source file");

        std::fs::write(src.join("extra.rs"), "").expect("write");
        let added = double_sources_hash(&ws).expect("hash");
        assert_ne!(added, edited, "an added source file");

        std::fs::write(ws.join("Cargo.lock"), "version = 4\n# bumped\n").expect("write");
        assert_ne!(
            double_sources_hash(&ws).expect("hash"),
            added,
            "a changed Cargo.lock"
        );
        let _ = std::fs::remove_dir_all(&ws);
    }

    #[test]
    fn the_files_tar_gives_the_keycloak_home_to_uid_1000_and_the_rest_to_root() {
        let tar = files_tar(&[
            FileEntry {
                path: "/opt/keycloak/bin/kc.sh".into(),
                mode: 0o755,
                content: b"binary".to_vec(),
            },
            FileEntry {
                path: "/usr/local/bin/tool".into(),
                mode: 0o755,
                content: b"tool".to_vec(),
            },
        ])
        .expect("tar");
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").display().to_string();
            let header = entry.header().clone();
            assert_eq!(header.gid().expect("gid"), 0, "{path}");
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).expect("read");
            let (uid, mode) = (header.uid().expect("uid"), header.mode().expect("mode"));
            seen.push((path, uid, mode, content));
        }
        let owners: Vec<(&str, u64, u32)> = seen
            .iter()
            .map(|(p, u, m, _)| (p.as_str(), *u, *m))
            .collect();
        assert_eq!(
            owners,
            [
                ("opt", 0, 0o755),
                ("opt/keycloak", 1000, 0o775),
                ("opt/keycloak/bin", 1000, 0o775),
                ("usr", 0, 0o755),
                ("usr/local", 0, 0o755),
                ("usr/local/bin", 0, 0o755),
                ("opt/keycloak/bin/kc.sh", 1000, 0o755),
                ("usr/local/bin/tool", 0, 0o755),
            ]
        );
        assert_eq!(seen[6].3, b"binary");
    }

    #[test]
    fn the_postgres_entrypoint_is_valid_posix_shell() {
        // dash is Debian's /bin/sh, the shell that runs it in the image.
        let dir = temp_dir("entrypoint");
        let script = dir.join("docker-entrypoint.sh");
        std::fs::write(&script, POSTGRES_ENTRYPOINT).expect("write");
        let status = std::process::Command::new("dash")
            .arg("-n")
            .arg(&script)
            .status()
            .expect("dash is installed (Debian's /bin/sh)");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(status.success(), "dash -n rejects the entrypoint");
        assert!(POSTGRES_ENTRYPOINT.starts_with("#!/bin/sh\n"));
    }

    #[test]
    fn the_layout_lives_in_the_target_dir_this_test_was_built_in() {
        let layout = Layout::discover();
        assert!(layout.root.ends_with("standin"));
        let target = layout.root.parent().expect("parent");
        assert!(
            target.join("CACHEDIR.TAG").is_file(),
            "{}",
            target.display()
        );
        assert!(layout.workspace.join("tests/keycloak-double").is_dir());
        assert!(layout.cargo_target().starts_with(&layout.root));
    }
}
