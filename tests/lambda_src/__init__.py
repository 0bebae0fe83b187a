"""Tests of the Lambda sources in lambda_src/, one package per function."""
