"""Helpers for tests, the demo and the benchmarks: local S3, SQS and DynamoDB servers and a fault-injecting
proxy. Not shipped in the package."""
