-- Runs once, when the postgres container starts on an empty data volume: one server, three
-- databases, all owned by POSTGRES_USER. Airflow and `fraud db migrate` create the schemas.
create database airflow;
create database fraud;
create database mlflow;
