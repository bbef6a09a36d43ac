"""Storage service: primary storage (LocalStorage, NFS, SharedMountPoint) and backup
storage (ImageStore)."""
