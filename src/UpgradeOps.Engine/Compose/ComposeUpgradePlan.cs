using Docker.DotNet.Models;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Compose;

/// <summary>One step of a hop: its journal key ("hop1:migrate"), the name its record shows, and where the progress bar is.</summary>
internal sealed record HopStep(string Name, int Index, string Key, string RecordName, int Percent);

/// <summary>What a product container becomes in a hop's "recreate" step.</summary>
/// <param name="AlreadyReplaced">It already runs the new image (replaced before an interruption): it is only started if it is not running.</param>
internal sealed record Recreation(ContainerListResponse Container, string NewImage, bool AlreadyReplaced);

/// <summary>
/// The decisions of a Compose upgrade, apart from the Docker Engine that carries them out (ComposeUpgrade): which steps a
/// hop runs and in which order, which containers are the product's and which role each has, which are stopped and
/// recreated and on which image, what the journal records before anything changes, and what a failed upgrade puts back.
/// </summary>
internal static class ComposeUpgradePlan
{
    public const string PullImages = "pull images";
    public const string Configuration = "configuration";
    public const string StopWorkers = "stop workers";
    public const string StopApi = "stop API";
    public const string Migrate = "migrate";
    public const string RecreateApi = "recreate API";
    public const string RecreateWorkers = "recreate workers";
    public const string UpdateComposeFiles = "update compose files";
    public const string CleanUp = "clean up";

    /// <summary>
    /// A hop's steps in the order they run: the images are pulled before anything stops; workers stop before the API so
    /// nothing is half-processed when the API goes; the migration runs with both stopped; the API comes back before the
    /// workers that call it; the compose files name the new version only once it runs. Rolling keeps workers and API
    /// serving (the profile marked the migration safe for old and new side by side), so it has no stop steps.
    /// </summary>
    public static IReadOnlyList<HopStep> HopSteps(int hop, int hopCount, string from, string to, bool rolling)
    {
        var prefix = hopCount > 1 ? $"{from}→{to} " : "";
        var key = $"hop{hop + 1}:";
        HopStep Step(string name, int index) =>
            new(name, index, key + name, prefix + name, (int)(100.0 * (hop * 8 + index) / (hopCount * 8)));
        var steps = new List<HopStep> { Step(PullImages, 0), Step(Configuration, 1) };
        if (!rolling)
        {
            steps.Add(Step(StopWorkers, 2));
            steps.Add(Step(StopApi, 3));
        }
        steps.Add(Step(Migrate, 4));
        steps.Add(Step(RecreateApi, 5));
        steps.Add(Step(RecreateWorkers, 6));
        steps.Add(Step(UpdateComposeFiles, 7));
        steps.Add(Step(CleanUp, 8));
        return steps;
    }

    /// <summary>The steps of every hop that are not recorded as done in the journal, in order: what -Resume runs.</summary>
    public static IReadOnlyList<HopStep> PendingSteps(IReadOnlyList<UpgradeStep> hops, bool rolling, IReadOnlyCollection<string> completed) =>
        hops.SelectMany((step, hop) => HopSteps(hop, hops.Count, ProductVersion.Parse(step.From).ToString(), ProductVersion.Parse(step.To).ToString(), rolling))
            .Where(s => !completed.Contains(s.Key)).ToList();

    /// <summary>The hops of an interrupted upgrade, read back from its journal ("1.6.4→1.7.6").</summary>
    public static UpgradePath ResumedPath(UpgradeJournal journal) => new()
    {
        From = journal.Result.From, To = journal.Result.To, IsSupported = true, Reason = "resumed",
        Steps = journal.Hops.Select(h => h.Split('→')).Select(p => new UpgradeStep { From = p[0], To = p[1], Kind = UpgradeKind.Patch }).ToList(),
    };

    /// <summary>The path must be supported, lead somewhere, and start at the version the deployment runs.</summary>
    public static void CheckPath(UpgradeRequest request)
    {
        if (!request.Path.IsSupported)
            throw new UpgradeOpsException("UpgradePathNotSupported", ErrorKind.InvalidOperation, $"{request.Path.From} → {request.Path.To}",
                $"The upgrade {request.Path.From} → {request.Path.To} is not supported: {request.Path.Reason}");
        if (request.Path.Steps.Count == 0)
            throw new UpgradeOpsException("NothingToUpgrade", ErrorKind.InvalidOperation, request.Path.To, $"The deployment already runs {request.Path.To}.");
        if (request.Deployment.Version is not null && request.Deployment.Version != request.Path.From)
            throw new UpgradeOpsException("DeploymentVersionChanged", ErrorKind.InvalidOperation, request.Deployment.Name,
                $"The path starts at {request.Path.From} but the deployment runs {request.Deployment.Version}. Check the path again with Test-UpgradePath.");
    }

    /// <summary>Rolling needs two or more API containers and every hop's migration marked safe for mixed versions.</summary>
    public static void CheckStrategy(UpgradeRequest request, ProductProfile profile, IEnumerable<ContainerListResponse> containers, string deploymentName)
    {
        if (request.Strategy != UpgradeStrategy.Rolling) return;
        var apiContainers = ProductContainers(profile, containers).Count(c => RoleOf(profile, c) == ServiceRole.Api);
        if (apiContainers < 2)
            throw new UpgradeOpsException("RollingNotPossible", ErrorKind.InvalidOperation, deploymentName,
                $"A rolling upgrade needs two or more API containers behind a load balancer; '{deploymentName}' has {apiContainers}. Use -Strategy Standard.");
        var unsafeHops = request.Path.Steps.Where(s => !profile.Migration.MixedVersionSafe.Contains(s.To)).Select(s => $"{s.From} → {s.To}").ToList();
        if (unsafeHops.Count > 0)
            throw new UpgradeOpsException("RollingNotSafe", ErrorKind.InvalidOperation, string.Join(", ", unsafeHops),
                $"The profile does not mark the migrations of {string.Join(", ", unsafeHops)} as safe with old and new servers side by side " +
                "(migration.mixedVersionSafe), so a rolling upgrade could corrupt data. Use -Strategy Standard, which stops the API during the migration.");
    }

    public static string NameOf(ContainerListResponse container) => container.Names.First().TrimStart('/');

    public static bool IsAside(ContainerListResponse container) =>
        container.Names.First().EndsWith(ContainerRecreator.PreviousSuffix, StringComparison.Ordinal);

    /// <summary>The name a container set aside during its replacement ("NAME-upgradeops-previous") had.</summary>
    public static string OriginalName(ContainerListResponse aside) => NameOf(aside)[..^ContainerRecreator.PreviousSuffix.Length];

    public static ServiceRole RoleOf(ProductProfile profile, ContainerListResponse container) =>
        profile.Services.FirstOrDefault(s => (s.ComposeService ?? s.Name) == container.Labels[ComposeDiscovery.ServiceLabel])?.Role ?? ServiceRole.Other;

    /// <summary>The containers of the services that run the product's image (not data stores, caches, load balancers), without those set aside.</summary>
    public static IEnumerable<ContainerListResponse> ProductContainers(ProductProfile profile, IEnumerable<ContainerListResponse> containers)
    {
        var product = profile.Services.Where(s => s.ProductImage).Select(s => s.ComposeService ?? s.Name).ToHashSet();
        return containers.Where(c => product.Contains(c.Labels[ComposeDiscovery.ServiceLabel]) && !IsAside(c));
    }

    public static IEnumerable<string> ProductImages(ProductProfile profile, IEnumerable<ContainerListResponse> containers) =>
        ProductContainers(profile, containers).Select(c => c.Image).Distinct();

    /// <summary>Each product image and the same image at the hop's version.</summary>
    public static Dictionary<string, string> NewImages(ProductProfile profile, IEnumerable<ContainerListResponse> containers, string to) =>
        ProductImages(profile, containers).ToDictionary(i => i, i => ImageReference.WithTag(i, to));

    /// <summary>What the journal records before anything changes: each product container and the exact image id it runs, for a rollback.</summary>
    public static List<PreviousContainer> PreviousContainers(ProductProfile profile, IEnumerable<ContainerListResponse> containers) =>
        ProductContainers(profile, containers).Select(c => new PreviousContainer
        {
            Name = NameOf(c), Service = c.Labels[ComposeDiscovery.ServiceLabel], Image = c.Image, ImageId = c.ImageID,
        }).ToList();

    /// <summary>The role's running product containers: what its "stop" step stops.</summary>
    public static List<ContainerListResponse> ToStop(ProductProfile profile, IEnumerable<ContainerListResponse> containers, ServiceRole role) =>
        ProductContainers(profile, containers).Where(c => RoleOf(profile, c) == role && c.State == "running").ToList();

    /// <summary>The role's product containers by name, each with the image it moves to; one already on it was replaced before an interruption.</summary>
    public static List<Recreation> Recreations(ProductProfile profile, IEnumerable<ContainerListResponse> containers, ServiceRole role,
        IReadOnlyDictionary<string, string> newImages) =>
        ProductContainers(profile, containers).Where(c => RoleOf(profile, c) == role).OrderBy(c => c.Names.First(), StringComparer.Ordinal)
            .Select(c =>
            {
                var image = NewImageFor(c.Image, newImages);
                return new Recreation(c, image, c.Image == image);
            }).ToList();

    /// <summary>
    /// How long a rolling upgrade keeps a replaced container healthy before it stops the next: rolling.minReadySeconds
    /// between API servers, since a load balancer takes a server it saw fail back only after a while; nothing after the
    /// last one, and nothing between workers, which no load balancer routes to.
    /// </summary>
    public static TimeSpan MinReadyAfter(ProductProfile profile, ServiceRole role, bool last) =>
        role == ServiceRole.Api && !last ? TimeSpan.FromSeconds(profile.Rolling.MinReadySeconds) : TimeSpan.Zero;

    /// <summary>
    /// The image a container moves to: the new image of its repository, or (a container the plan did not see, e.g. on a
    /// resume after it was replaced) its own repository at the new images' tag.
    /// </summary>
    public static string NewImageFor(string currentImage, IReadOnlyDictionary<string, string> newImages)
    {
        var baseImage = newImages.Keys.FirstOrDefault(k => ImageReference.Repository(k) == ImageReference.Repository(currentImage)) ?? currentImage;
        return newImages.GetValueOrDefault(baseImage) ?? ImageReference.WithTag(currentImage, newImages.Values.First().Split(':').Last());
    }

    /// <summary>
    /// The containers set aside whose original name is free (a crash came between the rename and the replacement's
    /// creation): they take their name back. One whose replacement exists stays aside.
    /// </summary>
    public static List<(ContainerListResponse Aside, string Original)> AsidesToPutBack(IEnumerable<ContainerListResponse> containers,
        IEnumerable<ContainerListResponse> asides)
    {
        var names = containers.Select(NameOf).ToHashSet();
        return asides.Select(a => (Aside: a, Original: OriginalName(a))).Where(a => !names.Contains(a.Original)).ToList();
    }

    /// <summary>
    /// After a failure without rollback, once the asides are back: the stopped product containers that still run the image
    /// they ran before the upgrade start again. One already on the new image would fail on the old schema, so it stays stopped.
    /// </summary>
    public static List<ContainerListResponse> ToStartAfterFailure(ProductProfile profile, IEnumerable<ContainerListResponse> containers,
        IReadOnlyList<PreviousContainer> previous) =>
        ProductContainers(profile, containers).Where(c => c.State != "running")
            .Where(c => previous.FirstOrDefault(p => p.Name == NameOf(c)) is { } before && before.ImageId == c.ImageID).ToList();

    /// <summary>The data may have changed under the previous version once the API stopped for the migration or the migration started.</summary>
    public static bool DataMayHaveChanged(IReadOnlyCollection<string> completed, string? current) =>
        completed.Any(c => c.EndsWith(":" + StopApi, StringComparison.Ordinal) || c.EndsWith(":" + Migrate, StringComparison.Ordinal))
        || current?.EndsWith(":" + Migrate, StringComparison.Ordinal) == true;
}
