import KlimavagtCore
import Testing

@Suite("Rates from pulse intervals")
struct PulseRateTests {
    let start = Timestamp(seconds: 1_000_000)

    @Test("the rate is one pulse per interval, decays while no pulse comes, and is zero after the timeout")
    func rate() {
        var rate = PulseRate(timeout: .seconds(300))
        #expect(rate.perHour(at: start) == 0)
        rate.pulse(at: start)
        #expect(rate.perHour(at: start) == 0)   // one pulse has no interval yet
        rate.pulse(at: start + .seconds(36))
        #expect(rate.perHour(at: start + .seconds(36)) == 100)
        #expect(rate.perHour(at: start + .seconds(108)) == 50)
        #expect(rate.perHour(at: start + .seconds(335)) == 3600.0 / 299)
        #expect(rate.perHour(at: start + .seconds(336)) == 0)
        #expect(rate.zeroAt == start + .seconds(336))
    }

    @Test("S0 pulses at 1000 imp/kWh every 3.6 s are 1 kW")
    func power() {
        var rate = PulseRate(timeout: .seconds(300))
        for index in 0..<10 { rate.pulse(at: start + .milliseconds(3600 * index)) }
        let watts = rate.perHour(at: start + .milliseconds(32_400)) / 1000 * 1000
        #expect(watts == 1000)
    }
}
