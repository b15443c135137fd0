"""omsims's own notifiers, carriers and gateway pass the contracts shipped for third parties."""

from decimal import Decimal

import pytest

from omsims import Money, events
from omsims.adapters.carriers import FakeCarrier, TableRateCarrier
from omsims.adapters.notifiers import NullNotifier, RecordingNotifier
from omsims.adapters.payments import FakeGateway
from omsims.testing.ports import CarrierContract, NotifierContract, PaymentContract


class TestFakeGateway(PaymentContract):
    def make_gateway(self):
        return FakeGateway()


class TestFakeCarrier(CarrierContract):
    def make_carrier(self):
        return FakeCarrier(cost=Money("4.90", "EUR"), transit_days=2)


class TestTableRateCarrier(CarrierContract):
    def make_carrier(self):
        return TableRateCarrier(
            "dhl",
            currency="EUR",
            distance_bands_km=(100, 800),
            weight_bands_kg=(Decimal(2), Decimal(20)),
            rates=(("4.99", "7.99"), ("5.99", "9.99")),
            transit_days=(1, 2),
        )


class TestRecordingNotifier(NotifierContract):
    def make_notifier(self):
        return RecordingNotifier()

    def received(self, notifier):
        return notifier.events


class TestSubscribedRecordingNotifier(NotifierContract):
    """A notifier with topics passes the contract on what it subscribes to."""

    def make_notifier(self):
        return RecordingNotifier(topics=[events.OrderPlaced, events.LowStock, events.PaymentMoved])

    def received(self, notifier):
        return notifier.events


class TestNullNotifier(NotifierContract):
    def make_notifier(self):
        return NullNotifier()


# -- the contracts fail adapters that break them ------------------------------------------------


class _ForgetfulGateway(FakeGateway):
    """Captures again when a key is repeated."""

    def capture(self, authorisation, amount, *, key):
        return super().capture(authorisation, amount, key=f"{key}-{len(self.calls)}")


class _CheaperWhenHeavier(FakeCarrier):
    def quote(self, origin, destination, weight_kg):
        q = super().quote(origin, destination, weight_kg)
        return q if weight_kg < 5 else type(q)(q.carrier, q.service, Money("0.50", "EUR"), 1)


class _TamperingNotifier(RecordingNotifier):
    def publish(self, event):
        super().publish(event)
        object.__setattr__(event, "id", "changed")


@pytest.mark.parametrize(
    ("contract", "make", "test"),
    [
        (
            PaymentContract,
            _ForgetfulGateway,
            "test_a_repeated_key_returns_the_first_answer_and_moves_nothing",
        ),
        (
            CarrierContract,
            lambda: _CheaperWhenHeavier(cost=Money("4.90", "EUR")),
            "test_a_heavier_parcel_never_costs_less_nor_travels_when_a_lighter_cannot",
        ),
        (NotifierContract, _TamperingNotifier, "test_publishing_leaves_the_event_as_it_was"),
    ],
    ids=["payments", "carriers", "notifiers"],
)
def test_each_contract_catches_an_adapter_that_breaks_it(contract, make, test):
    factory = {
        PaymentContract: "make_gateway",
        CarrierContract: "make_carrier",
        NotifierContract: "make_notifier",
    }[contract]
    suite = type("Broken", (contract,), {factory: lambda _self: make()})()
    with pytest.raises(AssertionError):
        getattr(suite, test)()
