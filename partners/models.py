# The partner-region finder's datasets and searches arrive with a later issue.
