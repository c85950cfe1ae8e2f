"""Ledger attribute names, shared by every backend and by the deployment (the original DynamoDB layout).

Partition key ``Key`` = ``src_bucket/src_key``; a global secondary index ``desBucket-index`` (partition
``desBucket``) projects ``desKey`` and ``versionId``. The original's attributes keep the original's types (the
comments say which), so original workers and s3migrate can write one table; names after ``# ours`` are
additions.
"""

from __future__ import annotations

KEY = "Key"
DES_BUCKET = "desBucket"
DES_KEY = "desKey"
SIZE = "Size"
VERSION_ID = "versionId"
INSTANCE_ID = "instanceID"  # string set of workers that touched the job
TRY_TIMES = "tryTimes"  # number, ADDed per attempt
FIRST_TIME = "firstTime"  # number: epoch seconds of the first attempt
START_TIME_F = "startTime_f"  # string set: time.asctime() of every attempt's start
LAST_TIME_PROGRESS = "lastTimeProgress"  # percent
JOB_STATUS = "jobStatus"  # string set: DONE / ERR / TIMEOUT / QUIT
END_TIME = "endTime"  # number: epoch seconds of the last end
END_TIME_F = "endTime_f"  # string: time.asctime() of the last end
TOTAL_SPENT_TIME = "totalSpentTime"  # number: endTime - firstTime
# ours
CLAIM_TIME = "claimTime"  # number: epoch seconds (fractional) when the current attempt started
STATE = "state"  # PENDING / RUNNING / DONE / FAILED: the current state (jobStatus is the history)
SRC_ETAG = "srcEtag"
DES_ETAG = "desEtag"
UPLOAD_ID = "uploadId"
UPLOAD_PART_SIZE = "uploadPartSize"
UPLOAD_SRC_ETAG = "uploadSrcEtag"  # the source ETag the unfinished upload's parts were read from
UPLOAD_SRC_VERSION = "uploadSrcVersion"
LEASE_OWNER = "leaseOwner"
LEASE_EXPIRES = "leaseExpires"
FAIL_COUNT = "failCount"  # attempts that failed in a row
LAST_ERROR = "lastError"

TABLE_DEFAULT = "s3_migrate_file_list"
DES_BUCKET_INDEX = "desBucket-index"
