"""What packaging/firecracker-config writes with nothing but --image: the
host's boot arguments (VM 192.168.100.2 behind 192.168.100.1) and the
whole default config, which tests/packaging (the script alone) and
tests/vm (the image's firecracker.json) both expect."""

HOST_BOOT_ARGS = ("console=ttyS0 reboot=k panic=1 root=/dev/vda rw rootfstype=ext4 rootwait "
                  "ip=192.168.100.2::192.168.100.1:255.255.255.0::eth0:off net.ifnames=0 "
                  "biosdevname=0 random.trust_cpu=on gso_max_size=0 ipv6.disable=1")


def default_config(image_dir):
    """The config for the image in image_dir (a str or a path)."""
    return {
        "boot-source": {"kernel_image_path": f"{image_dir}/vmlinux",
                        "initrd_path": f"{image_dir}/initrd.img",
                        "boot_args": HOST_BOOT_ARGS},
        "drives": [{"drive_id": "rootfs", "path_on_host": "/var/lib/vm-browser-agent/vm1/rootfs.ext4",
                    "is_root_device": True, "is_read_only": False}],
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                                "guest_mac": "06:00:c0:a8:64:02"}],
        "vsock": {"guest_cid": 3, "uds_path": "/run/vm-browser-agent/vm1/vsock.sock"},
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 2048},
    }
