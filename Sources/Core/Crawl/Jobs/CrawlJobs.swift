/// Registers the data-collection job kinds: `crawl`, `warehouse.author` and `crawl.summary`.
public enum CrawlJobs {
    /// Registers the kinds with a warehouse over `postgres` and a crawler fetching through `fetcher`.
    public static func register(into registry: inout JobRegistry, postgres: PostgresClient, fetcher: WebFetcher) {
        let store = WarehouseStore(postgres: postgres)
        registry.register(CrawlJob(crawler: ConditionalCrawler(fetcher: fetcher), store: store))
        registry.register(AuthorJob(store: store))
        registry.register(CrawlSummaryJob(postgres: postgres))
    }

    /// Registers the kinds as a process configures them: its own small Postgres pool (connected on first
    /// use) and one shared fetcher whose SSRF allow-list is `TWIN_CRAWL_ALLOW_HOSTS` and whose JavaScript domains
    /// (rendered by Chromium) are `TWIN_CRAWL_JS_DOMAINS`.
    public static func register(into registry: inout JobRegistry, configuration: TwinConfiguration) {
        register(into: &registry, postgres: PostgresClient(endpoint: configuration.postgres, connections: 2),
                 fetcher: WebFetcher(configuration: fetcherConfiguration(configuration)))
    }

    /// The fetcher settings a process's configuration gives: SSRF allow-list, JavaScript domains and
    /// Chromium, per-host politeness.
    public static func fetcherConfiguration(_ configuration: TwinConfiguration) -> FetcherConfiguration {
        var fetch = FetcherConfiguration()
        fetch.addressPolicy = AddressPolicy(allowedHosts: Set(configuration.crawlAllowedHosts))
        fetch.javaScriptDomains = configuration.crawlJavaScriptDomains
        fetch.chromiumPath = configuration.crawlChromiumPath
        fetch.minimumDelayPerHost = configuration.crawlHostDelay
        fetch.maximumConcurrencyPerHost = configuration.crawlHostConcurrency
        return fetch
    }
}
