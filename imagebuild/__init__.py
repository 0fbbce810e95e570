"""Real Debian-based images, built without a daemon, for the benchmark and the walkthrough.

`imagebuild.debian` builds layers (debootstrap, apt-get in a chroot on an overlay, files) cached
by recipe; `imagebuild.oci` writes OCI layouts that skopeo pushes; `imagebuild.walkthrough`
defines the walkthrough's debian and postgres images (`python -m imagebuild.walkthrough`).
Must not import `berth`: the images must not depend on the code they exercise.
"""
