namespace UpgradeOps;

public enum ServiceRole { Api, Worker, Database, Cache, Queue, TaskManager, LoadBalancer, Other }
