//! The server image: built by the harness from images/nfs-server (embedded
//! here), and image references split the way testcontainers wants them.

use crate::config::default_images;
use crate::docker::LocalImage;
use crate::error::Result;

/// Label on the image the harness builds: a hash of the Dockerfile and
/// entrypoint it was built from, so an edited Dockerfile triggers a rebuild.
pub(crate) const IMAGE_SOURCE_LABEL: &str = "storage-e2e/nfs-image-source";

/// The server image's build context, embedded so that `start()` can build it
/// from any working directory (and from crates that depend on the harness).
const DOCKERFILE: &str = include_str!("../../../images/nfs-server/Dockerfile");
const ENTRYPOINT: &str = include_str!("../../../images/nfs-server/entrypoint.sh");

/// The NFS server image, built by the harness from images/nfs-server.
pub(crate) const IMAGE: LocalImage = LocalImage {
    what: "the NFS server image",
    default_tag: default_images::NFS,
    files: &[("Dockerfile", DOCKERFILE), ("entrypoint.sh", ENTRYPOINT)],
    source_label: IMAGE_SOURCE_LABEL,
};

/// Build `image` from images/nfs-server unless it exists locally. For the
/// default tag, an image built from an older Dockerfile/entrypoint (see
/// [`IMAGE_SOURCE_LABEL`]) is rebuilt; an override (HARNESS_NFS_IMAGE) that
/// exists is used as it is.
///
/// # Errors
/// As [`LocalImage::ensure`].
pub(crate) async fn ensure_image(image: &str) -> Result<()> {
    IMAGE.ensure(image).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_source_hash_is_stable_and_hex() {
        let h = IMAGE.source_hash();
        assert_eq!(h.len(), 16);
        assert_eq!(h, IMAGE.source_hash());
        assert!(DOCKERFILE.contains("nfs-ganesha-vfs") && ENTRYPOINT.contains("ganesha.nfsd"));
    }
}
