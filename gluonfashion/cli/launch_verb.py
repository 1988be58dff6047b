"""``launch``: run ``train`` as a distributed job through MXNet's launcher."""
import argparse
import sys

from ..distributed import DISTRIBUTED
from ..launch import LAUNCHERS, launch_job


def register(verbs):
    p = verbs.add_parser(
        "launch", help="run `train` on several workers (MXNet's parameter server and launcher)",
        description="Run a train command as a distributed job: a scheduler, SERVERS servers and WORKERS "
                    "workers started by MXNet's launcher, every worker training on its shard of the rows. "
                    "Example: gluonfashion launch -n 2 -s 1 -- train --config configs/fashionai/"
                    "skirt_length_labels.yaml")
    p.add_argument("-n", "--num-workers", type=int, required=True, help="number of workers")
    p.add_argument("-s", "--num-servers", type=int, help="number of servers (default: as many as workers)")
    p.add_argument("--launcher", choices=LAUNCHERS, default="local",
                   help="local: every process on this machine; ssh: on the hosts of -H (default: local)")
    p.add_argument("-H", "--hostfile", help="ssh: a file with one host a line (host or host:port)")
    p.add_argument("--sync-dst-dir", help="ssh: copy this folder to that folder on every host first (rsync)")
    p.add_argument("--kvstore", choices=DISTRIBUTED, default="dist_sync",
                   help="the job's kvstore, set on the train command (dist_device_sync: summed on the "
                        "GPUs; default: dist_sync)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="after --: the train command, without `gluonfashion` (train --config ...)")
    p.set_defaults(func=cmd_launch)


def cmd_launch(args):
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command[:1] != ["train"]:
        raise ValueError(f"launch runs a train command on every worker: gluonfashion launch -n 2 -s 1 -- train "
                         f"--config ...; got {' '.join(command) or 'nothing'} after --")
    command = [sys.executable, "-m", "gluonfashion", *command, "--set", f"kvstore={args.kvstore}"]
    status = launch_job(args.num_workers, args.num_servers or args.num_workers, command, args.launcher,
                        args.hostfile, args.sync_dst_dir)
    if status:
        raise RuntimeError(f"the distributed job failed (status {status}); its processes were stopped")
