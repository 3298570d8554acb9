"""reductio's AWS Glue job script: runs the reductio agent (Node) for one job entry.

Glue starts it with the job's default arguments and the run's:

  --reductio_scratch   s3://bucket/prefix           the scratch root
  --reductio_code      <scratch>/code/<sha>.tar.gz  the workflow bundle
  --reductio_input     <scratch>/jobs/<eval>/input  the job entry
  --reductio_eval      <eval hash>
  --reductio_mode      job | partition
  --reductio_agent / --reductio_agent_sha256        the agent (one .js file)
  --reductio_mapper / --reductio_mapper_sha256      the partition mapper (one .js file)
  --reductio_runtime / --reductio_runtime_sha256    node-<v>-linux-x64.tar.xz (or .tar.gz)

It fetches the Node runtime, the agent and the bundle (verified by sha256, cached under
REDUCTIO_CACHE_DIR, default /tmp/reductio-glue), runs the agent with its output streamed to the Glue
log, writes <scratch>/jobs/<eval>/glue-status.json ({"exitCode": n}) and exits with the agent's
code: 0 done, 1 the task failed, 2 infrastructure.

In partition mode it maps the partition task's Node function over the shards listed in
<scratch>/jobs/<eval>/partitions.json with Spark: one partition per shard, one Node process per
partition, records streamed through stdin and stdout as JSON lines (as RDD.pipe does), output
written to <output>/part-NNNNN.jsonl.

Scratch URIs are s3:// (boto3; AWS_ENDPOINT_URL is honoured) or local paths (tests).
"""

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading

EXIT_DONE, EXIT_TASK_FAILED, EXIT_INFRASTRUCTURE = 0, 1, 2
ARGUMENTS = [
    "reductio_scratch",
    "reductio_code",
    "reductio_input",
    "reductio_eval",
    "reductio_mode",
    "reductio_agent",
    "reductio_agent_sha256",
    "reductio_mapper",
    "reductio_mapper_sha256",
    "reductio_runtime",
    "reductio_runtime_sha256",
]


def log(message):
    print(f"reductio glue shim: {message}", file=sys.stderr, flush=True)


class InfrastructureError(Exception):
    """A failure of the job's surroundings (exit 2)."""


# ------------------------------------------------------------------------------------------------
# Arguments


def parse_arguments(argv):
    """The reductio_* arguments: getResolvedOptions on Glue, plain --name value pairs elsewhere."""
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]

        present = [name for name in ARGUMENTS if f"--{name}" in argv]
        return getResolvedOptions(argv, present)
    except ImportError:
        pass
    options = {}
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            if not eq:
                value = argv[i + 1] if i + 1 < len(argv) else ""
                i += 1
            options[key] = value
        i += 1
    missing = [name for name in ARGUMENTS[:3] if not options.get(name)]
    if missing:
        raise InfrastructureError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
    return options


# ------------------------------------------------------------------------------------------------
# Scratch access: s3:// through boto3, anything else as a local path


_s3 = None


def s3_client():
    global _s3
    if _s3 is None:
        import boto3
        from botocore.config import Config

        style = "path" if os.environ.get("REDUCTIO_S3_FORCE_PATH_STYLE") == "1" else "auto"
        _s3 = boto3.client("s3", config=Config(s3={"addressing_style": style}, retries={"max_attempts": 6, "mode": "standard"}))
    return _s3


def split_s3(uri):
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def download(uri, path):
    if uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        s3_client().download_file(bucket, key, path)
    else:
        shutil.copyfile(uri[len("file://") :] if uri.startswith("file://") else uri, path)


def read_text(uri):
    if uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    with open(uri, encoding="utf-8") as handle:
        return handle.read()


def upload(path, uri):
    if uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        s3_client().upload_file(path, bucket, key)
    else:
        os.makedirs(os.path.dirname(uri), exist_ok=True)
        temp = f"{uri}.{os.getpid()}.tmp"
        shutil.copyfile(path, temp)
        os.replace(temp, uri)


def write_text(uri, text):
    with tempfile.NamedTemporaryFile("w", delete=False, encoding="utf-8") as handle:
        handle.write(text)
    try:
        upload(handle.name, uri)
    finally:
        os.unlink(handle.name)


def open_records(shard, fmt):
    """Yields a shard's records as JSON lines (csv rows become objects of strings)."""
    uri = shard["uri"]
    if uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        raw = s3_client().get_object(Bucket=bucket, Key=key)["Body"]
    else:
        raw = open(uri, "rb")
    try:
        stream = gzip.GzipFile(fileobj=raw) if uri.endswith(".gz") else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        if fmt == "csv":
            delimiter = "\t" if uri.endswith(".tsv") else ","
            for row in csv.DictReader(text, delimiter=delimiter):
                yield json.dumps({k: (v if v is not None else "") for k, v in row.items()}, ensure_ascii=False)
        elif fmt == "jsonl":
            for line in text:
                if line.strip():
                    yield line.rstrip("\r\n")
        else:
            raise InfrastructureError(f"cannot read {uri}: shards of format {fmt} are not supported by partition tasks")
    finally:
        raw.close()


# ------------------------------------------------------------------------------------------------
# Node, the agent and the mapper, fetched once per host


def cache_dir():
    path = os.environ.get("REDUCTIO_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "reductio-glue")
    os.makedirs(path, exist_ok=True)
    return path


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_verified(uri, expected, name):
    """Downloads `uri` to the cache as `name`, checking its sha256; reuses a verified copy."""
    path = os.path.join(cache_dir(), name)
    if os.path.exists(path):
        return path
    fd, temp = tempfile.mkstemp(dir=cache_dir(), prefix=".fetch-")
    os.close(fd)
    try:
        download(uri, temp)
        if expected and sha256_of(temp) != expected:
            raise InfrastructureError(f"{uri} does not have the sha256 {expected} it is named by")
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


def safe_members(archive, root):
    for member in archive.getmembers():
        target = os.path.realpath(os.path.join(root, member.name))
        if not target.startswith(os.path.realpath(root) + os.sep) and target != os.path.realpath(root):
            raise InfrastructureError(f"the Node runtime tarball holds an unsafe entry {member.name!r}")
        if member.isdev():
            raise InfrastructureError(f"the Node runtime tarball holds a device file {member.name!r}")
        yield member


def ensure_node(uri, expected):
    """The path of `bin/node` from the runtime tarball (extracted once per sha256)."""
    key = expected or hashlib.sha256(uri.encode()).hexdigest()
    home = os.path.join(cache_dir(), f"node-{key}")
    if not os.path.isdir(home):
        tarball = fetch_verified(uri, expected, f"runtime-{key}{'.tar.xz' if uri.endswith('.xz') else '.tar.gz'}")
        staging = tempfile.mkdtemp(dir=cache_dir(), prefix=".node-")
        with tarfile.open(tarball, "r:*") as archive:
            archive.extractall(staging, members=list(safe_members(archive, staging)))
        try:
            os.rename(staging, home)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process finished first
    for dirpath, _dirs, files in os.walk(home):
        if "node" in files and os.path.basename(dirpath) == "bin":
            return os.path.join(dirpath, "node")
    raise InfrastructureError(f"the Node runtime {uri} has no bin/node")


def node_env():
    """The agent's environment: the shim's, plus the job's AWS credentials for the Node SDK."""
    env = dict(os.environ)
    env.pop("NODE_OPTIONS", None)
    if "AWS_ACCESS_KEY_ID" not in env:
        try:
            import boto3

            session = boto3.session.Session()
            credentials = session.get_credentials()
            if credentials is not None:
                frozen = credentials.get_frozen_credentials()
                env["AWS_ACCESS_KEY_ID"] = frozen.access_key
                env["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
                if frozen.token:
                    env["AWS_SESSION_TOKEN"] = frozen.token
            if session.region_name and "AWS_REGION" not in env:
                env["AWS_REGION"] = session.region_name
        except Exception as error:  # noqa: BLE001 - the agent's own credential chain may still work
            log(f"cannot export AWS credentials to Node: {error}")
    env.setdefault("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true")
    return env


# ------------------------------------------------------------------------------------------------
# Job mode: one agent run


def run_job(options):
    node = ensure_node(options["reductio_runtime"], options.get("reductio_runtime_sha256"))
    agent = fetch_verified(options["reductio_agent"], options.get("reductio_agent_sha256"), f"agent-{options.get('reductio_agent_sha256') or 'latest'}.js")
    command = [node, agent, "--code", options["reductio_code"], "--input", options["reductio_input"], "--scratch", options["reductio_scratch"]]
    command += ["--workdir", os.path.join(cache_dir(), "code")]
    if options.get("reductio_index"):
        command += ["--index", options["reductio_index"]]
    log(f"running the agent for {options['reductio_input']}")
    # Inherited stdout and stderr: the agent's output streams straight into the Glue log.
    return subprocess.run(command, env=node_env(), check=False).returncode


# ------------------------------------------------------------------------------------------------
# Partition mode: a Node function over the partitions of a dataset, with Spark


def partition_runner(settings):
    """The function Spark runs per partition (on an executor): one Node process per shard."""

    def run(items):
        node = ensure_node(settings["runtime"], settings["runtime_sha256"])
        mapper = fetch_verified(settings["mapper"], settings["mapper_sha256"], f"mapper-{settings['mapper_sha256'] or 'latest'}.js")
        for index, shard in items:
            yield map_partition(node, mapper, settings, index, shard)

    return run


def map_partition(node, mapper, settings, index, shard):
    command = [node, mapper, "--code", settings["code"], "--task", settings["task"], "--index", str(index)]
    command += ["--scratch", settings["scratch"], "--eval", settings["eval"], "--workdir", os.path.join(cache_dir(), "code")]
    with tempfile.NamedTemporaryFile("wb", delete=False, suffix=".jsonl") as out:
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, env=node_env())
        failure = []

        def feed():
            try:
                for line in open_records(shard, settings["format"]):
                    child.stdin.write(line.encode("utf-8") + b"\n")
            except BrokenPipeError:
                pass
            except Exception as error:  # noqa: BLE001 - reported below
                failure.append(error)
            finally:
                try:
                    child.stdin.close()
                except BrokenPipeError:
                    pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        code = child.wait()
        writer.join()
    try:
        if failure:
            raise InfrastructureError(f"cannot read shard {shard['uri']}: {failure[0]}")
        if code != 0:
            return {"index": index, "exitCode": code}
        upload(out.name, f"{settings['output']}/part-{index:05d}.jsonl")
        return {"index": index, "exitCode": 0}
    finally:
        os.unlink(out.name)


def spark_context():
    try:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]  # noqa: F401
        from pyspark.context import SparkContext  # type: ignore[import-not-found]
    except ImportError:
        from pyspark import SparkContext  # type: ignore[import-not-found]
    return SparkContext.getOrCreate()


def run_partitions(options):
    scratch, evaluation = options["reductio_scratch"], options["reductio_eval"]
    plan = json.loads(read_text(f"{scratch.rstrip('/')}/jobs/{evaluation}/partitions.json"))
    settings = {
        "code": options["reductio_code"],
        "task": plan["task"],
        "format": plan["format"],
        "output": plan["output"].rstrip("/"),
        "scratch": scratch,
        "eval": evaluation,
        "runtime": options["reductio_runtime"],
        "runtime_sha256": options.get("reductio_runtime_sha256"),
        "mapper": options["reductio_mapper"],
        "mapper_sha256": options.get("reductio_mapper_sha256"),
    }
    shards = list(enumerate(plan["shards"]))
    log(f"mapping {plan['task']} over {len(shards)} partitions into {settings['output']}")
    if not shards:
        return EXIT_DONE
    context = spark_context()
    results = context.parallelize(shards, len(shards)).mapPartitions(partition_runner(settings)).collect()
    codes = sorted({result["exitCode"] for result in results})
    failed = [result["index"] for result in results if result["exitCode"] != 0]
    if failed:
        log(f"partitions {failed} failed with exit codes {codes}")
        return EXIT_TASK_FAILED if EXIT_TASK_FAILED in codes else EXIT_INFRASTRUCTURE
    return EXIT_DONE


# ------------------------------------------------------------------------------------------------


def main(argv):
    options = {}
    try:
        options = parse_arguments(argv)
        mode = options.get("reductio_mode") or "job"
        code = run_partitions(options) if mode == "partition" else run_job(options)
    except Exception as error:  # noqa: BLE001 - every failure becomes exit 2 with its message in the log
        log(f"{type(error).__name__}: {error}")
        code = EXIT_INFRASTRUCTURE
    if options.get("reductio_scratch") and options.get("reductio_eval"):
        status = f"{options['reductio_scratch'].rstrip('/')}/jobs/{options['reductio_eval']}/glue-status.json"
        try:
            write_text(status, json.dumps({"exitCode": code}))
        except Exception as error:  # noqa: BLE001
            log(f"cannot write {status}: {error}")
    log(f"exit code {code}")
    return code


if __name__ == "__main__":
    exit_code = main(sys.argv)
    # Glue marks a run FAILED on a non-zero exit; a clean return keeps SUCCEEDED.
    if exit_code != EXIT_DONE:
        sys.exit(exit_code)
