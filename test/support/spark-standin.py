"""A minimal stand-in of the PySpark RDD API the reductio Glue shim uses, for tests only.

The tests install it as the `pyspark` package (PYTHONPATH). Partitions run concurrently in threads,
as tasks do on a Spark executor; closures are called directly (no pickling, no cluster).
"""

from concurrent.futures import ThreadPoolExecutor


class RDD:
    def __init__(self, partitions):
        self._partitions = partitions

    def getNumPartitions(self):
        return len(self._partitions)

    def mapPartitionsWithIndex(self, f, preservesPartitioning=False):
        with ThreadPoolExecutor(max_workers=max(1, len(self._partitions))) as pool:
            done = list(pool.map(lambda pair: list(f(pair[0], iter(pair[1]))), enumerate(self._partitions)))
        return RDD(done)

    def mapPartitions(self, f, preservesPartitioning=False):
        return self.mapPartitionsWithIndex(lambda _index, items: f(items))

    def map(self, f):
        return self.mapPartitions(lambda items: (f(item) for item in items))

    def flatMap(self, f):
        return self.mapPartitions(lambda items: (out for item in items for out in f(item)))

    def collect(self):
        return [item for partition in self._partitions for item in partition]


class SparkContext:
    _active = None

    @classmethod
    def getOrCreate(cls, conf=None):
        if cls._active is None:
            cls._active = SparkContext()
        return cls._active

    def parallelize(self, data, numSlices=None):
        items = list(data)
        slices = max(1, numSlices or 1)
        size, extra = divmod(len(items), slices)
        partitions, start = [], 0
        for index in range(slices):
            end = start + size + (1 if index < extra else 0)
            partitions.append(items[start:end])
            start = end
        return RDD(partitions)
