import Foundation
@testable import KlimavagtRuntime
import Testing

/// The quarter-hour cache of local-time conversion gives the zone database's answer for every second, the changes of
/// the clocks included (the skipped hour has none, the repeated hour its earlier instant).
@Suite("Local time of payloads")
struct LocalTimeCacheTests {
    @Test("cached conversion equals the direct one around both changes of the clocks", arguments: [
        "Europe/Copenhagen", "America/St_Johns", "Australia/Lord_Howe", "UTC",
    ])
    func cacheMatchesDirect(zoneName: String) throws {
        let zone = try #require(TimeZone(identifier: zoneName))
        let cache = PayloadRouter.LocalTimeCache(zone: zone)
        // Every 7 s through the days around 2024's changes, in the order a device would send them, then backwards.
        var civils: [Int64] = []
        for start: Int64 in [1_711_670_400, 1_730_419_200, 1_712_361_600, 1_727_827_200] {   // 29 Mar, 1 Nov, 6 Apr, 2 Oct
            civils += stride(from: start - 86_400, to: start + 3 * 86_400, by: 7).map { $0 }
        }
        for civil in civils + civils.reversed() {
            #expect(cache.utc(civil) == PayloadRouter.localToUTC(civil, in: zone), "\(zoneName) \(civil)")
        }
    }
}
