using UpgradeOps.Profiles;
using UpgradeOps.Rehearsals;
using Xunit;

using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Rehearsals;

public class RehearsalCopyTests
{
    private static readonly IReadOnlyDictionary<int, int> Map = new Dictionary<int, int> { [58000] = 59000, [55432] = 56432 };

    [Theory]
    [InlineData("APP_DB_PORT=55432", "APP_DB_PORT=56432")]
    [InlineData("http://127.0.0.1:58000/nginx-health", "http://127.0.0.1:59000/nginx-health")]
    [InlineData("pg_isready -q -h 127.0.0.1 -p 55432 -U \"$POSTGRES_USER\"", "pg_isready -q -h 127.0.0.1 -p 56432 -U \"$POSTGRES_USER\"")]
    [InlineData("58000", "59000")]
    // Never inside a longer number, a word, a version or a secret.
    [InlineData("580001", "580001")]
    [InlineData("POSTGRES_PASSWORD=ab55432cd", "POSTGRES_PASSWORD=ab55432cd")]
    [InlineData("VERSION=1.55432", "VERSION=1.55432")]
    [InlineData("APP_PORT=58001", "APP_PORT=58001")]
    public void Moves_a_port_only_where_it_stands_alone(string text, string expected) =>
        Assert.Equal(expected, ComposeRehearsalCopy.MapPorts(text, Map));

    [Fact]
    public void Moves_every_port_by_one_offset_to_the_first_free_set()
    {
        var busy = new HashSet<int> { 59001 };
        var chosen = ComposeRehearsalCopy.ChoosePorts(new[] { 58000, 58001, 55432 }, port => !busy.Contains(port));
        Assert.Equal(new Dictionary<int, int> { [58000] = 60000, [58001] = 60001, [55432] = 57432 }, chosen);
    }

    [Fact]
    public void Prefers_ports_outside_the_range_the_kernel_gives_to_outgoing_connections()
    {
        // Linux's default 32768-60999: the sandbox's 55432-58002 land on 61432-64002, where no client socket can take them first.
        var chosen = ComposeRehearsalCopy.ChoosePorts(new[] { 58000, 58001, 58002, 55432, 56379 }, _ => true, (32768, 60999));
        Assert.All(chosen.Values, port => Assert.True(port > 60999, $"{port} is in the ephemeral range"));
        Assert.Equal(new Dictionary<int, int> { [58000] = 64000, [58001] = 64001, [58002] = 64002, [55432] = 61432, [56379] = 62379 }, chosen);
    }

    [Fact]
    public void Takes_ports_inside_the_client_range_when_nothing_outside_is_free()
    {
        var chosen = ComposeRehearsalCopy.ChoosePorts(new[] { 58000 }, port => port is >= 32768 and <= 60999, (32768, 60999));
        Assert.Equal(59000, chosen[58000]);
    }

    [Fact]
    public void Reads_the_client_port_range_of_the_kernel_and_falls_back_to_the_dynamic_range()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "32768\t60999\n");
            Assert.Equal((32768, 60999), ComposeRehearsalCopy.ClientPortRange(file));
            File.WriteAllText(file, "garbage");
            Assert.Equal((49152, 65535), ComposeRehearsalCopy.ClientPortRange(file));
        }
        finally { File.Delete(file); }
        Assert.Equal((49152, 65535), ComposeRehearsalCopy.ClientPortRange(Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("n"))));
    }

    [Fact]
    public void Never_moves_a_port_onto_another_port_being_moved()
    {
        // +1000 would put 58000 on 59000, which is itself moved.
        var chosen = ComposeRehearsalCopy.ChoosePorts(new[] { 58000, 59000 }, _ => true);
        Assert.DoesNotContain(chosen.Values, v => v is 58000 or 59000);
        Assert.Equal(chosen[58000] - 58000, chosen[59000] - 59000);
    }

    [Fact]
    public void Says_what_to_do_when_no_ports_are_free()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeRehearsalCopy.ChoosePorts(new[] { 58000 }, _ => false));
        Assert.Equal("RehearsalNoFreePorts", error.ErrorId);
        Assert.Contains(RehearsalLabels.Id, error.Message);
    }

    [Theory]
    [InlineData("upgradeops-sandbox_server-a_1", "upgradeops-sandbox-rehearsal-abc123_server-a_1")]
    [InlineData("upgradeops-sandbox-worker-2", "upgradeops-sandbox-rehearsal-abc123-worker-2")]
    [InlineData("hand-made", "upgradeops-sandbox-rehearsal-abc123-hand-made")]
    public void Names_containers_after_the_copy(string name, string expected) =>
        Assert.Equal(expected, ComposeRehearsalCopy.CopyName(name, "upgradeops-sandbox", "upgradeops-sandbox-rehearsal-abc123"));

    [Fact]
    public void Moves_the_profile_ports_the_api_and_data_store_ports()
    {
        var profile = new ProductProfile
        {
            Rehearsal = new RehearsalDefinition { Ports = { 58001 } },
            Api = new ApiDefinition { Port = 58000 },
            DataStores = { new DataStoreDefinition { Name = "database", Port = 55432 } },
        };
        Assert.Equal(new[] { 55432, 58000, 58001 }, ComposeRehearsalCopy.PortsToMove(profile, Array.Empty<Docker.DotNet.Models.ContainerInspectResponse>()).Order());
    }

    [Fact]
    public void Port_map_labels_round_trip_and_ignore_what_is_not_a_copy()
    {
        var labels = new Dictionary<string, string> { [RehearsalLabels.Ports] = RehearsalLabels.Format(Map) };
        Assert.Equal("55432=56432,58000=59000", labels[RehearsalLabels.Ports]);
        Assert.Equal(Map, RehearsalLabels.PortMap(labels));
        Assert.Equal(56432, RehearsalLabels.MapPort(labels, 55432));
        Assert.Equal(6379, RehearsalLabels.MapPort(labels, 6379));
        Assert.Empty(RehearsalLabels.PortMap(new Dictionary<string, string>()));
        Assert.Empty(RehearsalLabels.PortMap(null));
    }

    [Fact]
    public void A_copy_belongs_to_a_living_process_only_while_that_process_runs()
    {
        Assert.True(UpgradeOps.Rehearsals.RehearsalLabels.OwnerAlive(UpgradeOps.Rehearsals.RehearsalLabels.CurrentOwner));
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        // Same pid, another start time: the pid was reused by an unrelated process.
        Assert.False(UpgradeOps.Rehearsals.RehearsalLabels.OwnerAlive($"{self.Id}:1"));
        // The start time as another process reads it (measured here: 0.2-0.8 ms apart): still the same process.
        var ticks = self.StartTime.ToUniversalTime().Ticks;
        Assert.True(UpgradeOps.Rehearsals.RehearsalLabels.OwnerAlive($"{self.Id}:{ticks + TimeSpan.TicksPerMillisecond}"));
        Assert.True(UpgradeOps.Rehearsals.RehearsalLabels.OwnerAlive($"{self.Id}:{ticks - TimeSpan.TicksPerMillisecond}"));
        Assert.False(UpgradeOps.Rehearsals.RehearsalLabels.OwnerAlive("not-an-owner"));
    }

    [Fact]
    public void The_window_is_the_measured_work_times_the_safety_factor_in_whole_minutes()
    {
        var report = new RehearsalReport { Id = "r", DeploymentName = "d", CopyName = "c", From = "1.6.4", To = "1.8.0", Backup = TimeSpan.FromSeconds(30) };
        var upgrade = new UpgradeResult { Id = "u", DeploymentName = "c", From = "1.6.4", To = "1.8.0", Duration = TimeSpan.FromSeconds(70) };
        var validation = new ValidationReport { DeploymentName = "c", Duration = TimeSpan.FromSeconds(20) };
        RehearsalService.Estimate(report, new ProductProfile { Rehearsal = new RehearsalDefinition { WindowSafetyFactor = 1.5 } }, upgrade, validation);
        Assert.Equal(TimeSpan.FromMinutes(3), report.EstimatedWindow); // 120 s × 1.5 = 3 min
        Assert.Contains("× 1.5", report.EstimateBasis);
    }

    // What a host-network redis (16379), a server (8000) and an exec's own shell hold, from the host's /proc/net/tcp{,6}:
    // one listener the container holds per family, one listener of another container, one established connection.
    private const string SocketTable = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:3FFB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 41001 1 0000000000000000 100 0 0 10 0
           1: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 52002 1 0000000000000000 100 0 0 10 0
           2: 0100007F:3FFB 0100007F:A1C2 01 00000000:00000000 00:00000000 00000000   999        0 41003 1 0000000000000000 20 4 30 10 -1
          sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 00000000000000000000000000000000:3FFB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 41004 1 0000000000000000 100 0 0 10 0
        """;

    private const string Processes = """
        dr-xr-xr-x 9 101 104 0 Dec  5 16:00 /proc/1
        dr-xr-xr-x 9   0   0 0 Dec  5 16:00 /proc/19
        dr-xr-xr-x 9 101 104 0 Dec  5 16:00 /proc/27
        """;

    private const string Sockets = """
        /proc/1/fd:
        total 0
        lrwx------ 1 redis redis 64 Dec  5 16:00 0 -> /dev/null
        lrwx------ 1 redis redis 64 Dec  5 16:00 6 -> socket:[41001]
        lrwx------ 1 redis redis 64 Dec  5 16:00 7 -> socket:[41003]
        lrwx------ 1 redis redis 64 Dec  5 16:00 8 -> socket:[41004]
        """;

    [Fact]
    public void Reads_the_ports_a_host_network_container_listens_on_from_the_sockets_its_processes_hold()
    {
        // The fds are listed once per owner of the container's processes (root cannot read another user's there).
        Assert.Equal(new[] { "101", "0" }, HostListeningPorts.Owners(Processes));
        Assert.Equal(new[] { 16379 }, HostListeningPorts.Parse(SocketTable, Sockets));
        Assert.Empty(HostListeningPorts.Parse(SocketTable, ""));
    }

    private static Docker.DotNet.Models.ContainerInspectResponse Listener(params string[] env) => new()
    {
        Name = "/infrahub-cache-1",
        Config = new Docker.DotNet.Models.ContainerConfig
        {
            Env = env.ToList(),
            Cmd = new List<string> { "redis-server" },
            Healthcheck = new Docker.DotNet.Models.HealthcheckConfig { Test = new List<string> { "CMD-SHELL", "redis-cli -p 16379 ping" } },
        },
    };

    [Fact]
    public void A_listening_port_the_container_names_is_moved_and_one_it_does_not_name_is_refused()
    {
        var clientPorts = (32768, 60999);
        var moving = new HashSet<int> { 8000 };
        // Named in the healthcheck (and the environment): its copy's settings can be rewritten.
        Assert.True(ComposeRehearsalCopy.NamesPort(Listener("REDIS_PORT=16379"), 16379));
        Assert.Empty(ComposeRehearsalCopy.UnmovablePorts(Listener("REDIS_PORT=16379"), new[] { 16379 }, moving, clientPorts));
        // 6379 named nowhere (redis's default): the copy would bind production's port, or its clients reach production.
        Assert.False(ComposeRehearsalCopy.NamesPort(Listener(), 6379));
        Assert.Equal(new[] { 6379 }, ComposeRehearsalCopy.UnmovablePorts(Listener(), new[] { 6379, 16379 }, moving, clientPorts));
        // Moved already (the API port), or in the client range (a port the process picked for itself): never refused.
        Assert.Empty(ComposeRehearsalCopy.UnmovablePorts(Listener(), new[] { 8000, 45123 }, moving, clientPorts));
        // Never inside another number: 1637 is not named by "16379".
        Assert.False(ComposeRehearsalCopy.NamesPort(Listener("REDIS_PORT=16379"), 1637));
    }
}
