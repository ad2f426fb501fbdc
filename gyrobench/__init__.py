"""gyrobench: reproducible gyro-aided single-image deblurring research.

Data flows one way (see docs/architecture.md)::

    gyro recording -> exposure window -> orientations -> homographies -+-> camera motion field
                                                                        +-> blur render -> degradation -> shard
    shard -> dataset/loader -> model -> restored image -> metrics -> results record -> leaderboard table
"""

__version__ = "0.1.0"
