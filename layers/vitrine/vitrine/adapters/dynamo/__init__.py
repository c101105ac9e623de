"""The StateTable over DynamoDB: the shared table vocabulary and the stores built on it."""
