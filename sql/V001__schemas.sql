-- One schema per layer: what the payments system writes, what passed the gate,
-- what failed it, what the model said, how the model is doing, what analysts read.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists quality;
create schema if not exists scoring;
create schema if not exists monitoring;
create schema if not exists analytics;
