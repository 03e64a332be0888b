"""Checks a Firecracker `--config-file` JSON without a Firecracker binary.

The field table below is Firecracker's API as its swagger describes it
(src/firecracker/swagger/firecracker.yaml, definitions BootSource, Drive,
NetworkInterface, Vsock, MachineConfiguration and the kebab-case section
names of FullVmConfiguration), for the sections our config uses: required
fields, known fields and their JSON types, enums and bounds.  Firecracker
refuses a config with an unknown field (serde deny_unknown_fields), so an
unknown name is an error here too.

    errors(cfg) -> ["section.field: what is wrong", ...]   ([] = valid)
"""

# section -> (is a list, {field: (type, required, extra check or None)})
STR, INT, BOOL, OBJ = str, int, bool, dict


def _enum(*values):
    return lambda v: None if v in values else f"one of {', '.join(values)}"


def _range(lo, hi=None):
    return lambda v: None if v >= lo and (hi is None or v <= hi) else \
        f"at least {lo}" + (f" and at most {hi}" if hi is not None else "")


def _vcpus(v):
    return None if v == 1 or (v % 2 == 0 and 2 <= v <= 32) else "1 or an even number up to 32"


SECTIONS = {
    "boot-source": (False, {
        "kernel_image_path": (STR, True, None),
        "initrd_path": (STR, False, None),
        "boot_args": (STR, False, None),
    }),
    "drives": (True, {
        "drive_id": (STR, True, None),
        "is_root_device": (BOOL, True, None),
        "partuuid": (STR, False, None),
        "cache_type": (STR, False, _enum("Unsafe", "Writeback")),
        "is_read_only": (BOOL, False, None),
        "path_on_host": (STR, False, None),
        "rate_limiter": (OBJ, False, None),
        "io_engine": (STR, False, _enum("Sync", "Async")),
        "socket": (STR, False, None),
    }),
    "network-interfaces": (True, {
        "iface_id": (STR, True, None),
        "host_dev_name": (STR, True, None),
        "guest_mac": (STR, False, None),
        "mtu": (INT, False, _range(68, 65535)),
        "rx_rate_limiter": (OBJ, False, None),
        "tx_rate_limiter": (OBJ, False, None),
    }),
    "vsock": (False, {
        "guest_cid": (INT, True, _range(3)),
        "uds_path": (STR, True, None),
        "vsock_id": (STR, False, None),
    }),
    "machine-config": (False, {
        "vcpu_count": (INT, True, _vcpus),
        "mem_size_mib": (INT, True, _range(1)),
        "smt": (BOOL, False, None),
        "track_dirty_pages": (BOOL, False, None),
        "cpu_template": (STR, False, _enum("C3", "T2", "T2S", "T2CL", "T2A", "V1N1", "None")),
        "huge_pages": (STR, False, _enum("None", "Transparent", "2M")),
    }),
}
# Sections Firecracker knows that this table does not describe.
OTHER_SECTIONS = {"balloon", "cpu-config", "logger", "metrics", "memory-hotplug", "mmds-config",
                  "pmem", "entropy"}
TYPE_NAMES = {STR: "string", INT: "integer", BOOL: "boolean", OBJ: "object"}


def _item_errors(where, item, fields):
    if not isinstance(item, dict):
        return [f"{where}: expected an object"]
    errs = [f"{where}: missing required {k}" for k, (_, req, _) in fields.items() if req and k not in item]
    for k, v in item.items():
        if k not in fields:
            errs.append(f"{where}.{k}: unknown field")
            continue
        typ, _, check = fields[k]
        # bool is an int in Python; JSON keeps them apart.
        if not isinstance(v, typ) or (typ is INT and isinstance(v, bool)):
            errs.append(f"{where}.{k}: expected {TYPE_NAMES[typ]}")
        elif check and check(v):
            errs.append(f"{where}.{k}: expected {check(v)}, got {v!r}")
    return errs


def errors(cfg):
    if not isinstance(cfg, dict):
        return ["the config is not a JSON object"]
    errs = []
    for sec, val in cfg.items():
        if sec in OTHER_SECTIONS:
            errs.append(f"{sec}: a section this check does not describe")
            continue
        if sec not in SECTIONS:
            errs.append(f"{sec}: unknown section")
            continue
        is_list, fields = SECTIONS[sec]
        if is_list:
            if not isinstance(val, list):
                errs.append(f"{sec}: expected an array")
                continue
            for i, item in enumerate(val):
                errs += _item_errors(f"{sec}[{i}]", item, fields)
        else:
            errs += _item_errors(sec, val, fields)
    if "boot-source" not in cfg:
        errs.append("boot-source: missing (Firecracker boots nothing without it)")
    roots = [d for d in cfg.get("drives", []) if isinstance(d, dict) and d.get("is_root_device")]
    if len(roots) > 1:
        errs.append("drives: more than one root device")
    return errs
