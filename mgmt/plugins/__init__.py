"""In-tree plugins (simulator; kvm, vmware, storage and network types later): each
implements extension points services own, and is listed once in the composition root."""
