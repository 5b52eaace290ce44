"""Screening a claims table with PySpark: the mtmrules chunk function inside ``applyInPandas``.

    pip install "mtmrules[spark]"      # needs a Java runtime (Spark 4: Java 17+)
    PYSPARK_PYTHON=$(which python) python examples/pyspark_screen.py fills.parquet problems/ 2026-11-27
    # or: spark-submit examples/pyspark_screen.py fills.parquet problems/ 2026-11-27

``groupBy(...).applyInPandas`` hands each patient's rows to the function together, so no patient is
split across batches. Each Python worker builds its own mtmrules Engine on first use.
"""

import sys
from datetime import date

from pyspark.sql import SparkSession

from mtmrules.population.dask import screen_partition  # the same function the Dask adapter maps over partitions

SCHEMA = ("patient_id string, rank int, kind string, category string, severity string, score double, "
          "rule string, medications string, title string")


def main(source: str, target: str, as_of: str) -> None:
    spark = SparkSession.builder.appName("mtmrules-screen").getOrCreate()
    fills = spark.read.parquet(source)
    when = date.fromisoformat(as_of)
    problems = fills.groupBy("patient_id").applyInPandas(lambda frame: screen_partition(frame, when), schema=SCHEMA)
    problems.write.mode("overwrite").parquet(target)


if __name__ == "__main__":
    main(*sys.argv[1:4])
